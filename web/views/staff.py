"""Community-staff tools: the legal basis of tasks (one, or a CSV/XLSX list, with a report to
download) and the check of a draft 居民公约 / 管理规约."""

from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, Response, render_template, request

from .. import params
from ..errors import WebError
from ..resources import res
from ..tools import document_text, tool, upload

bp = Blueprint("staff", __name__, url_prefix="/staff")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/")
def tools():
    return render_template("staff.html")


def _tasks_from_form() -> tuple[list, str | None]:
    """The tasks, and for an uploaded list a sentence on which of its columns were read."""
    taskcheck = tool("taskcheck")
    got = upload(request.files.get("file"))
    columns = None
    if got is not None:
        listed = taskcheck.read_task_list(*got)   # unreadable or oversized: a KBError with its status
        tasks, columns = listed.tasks, listed.describe()
    elif request.form.get("tasks_json"):
        try:
            tasks = json.loads(request.form["tasks_json"])
        except (ValueError, RecursionError):
            raise WebError(400, "任务数据无效，请重新上传") from None
    else:
        tasks = [line.strip() for line in (request.form.get("tasks") or "").splitlines() if line.strip()]
    if not tasks:
        raise WebError(400, "请填写至少一项任务，或上传 CSV / XLSX 任务清单")
    return params.task_list(tasks, taskcheck.MAX_TASKS), columns


def _check(tasks: list) -> dict:
    r = res()
    region = params.name_arg(request.form, "region")
    return tool("taskcheck").check_tasks(r.kb, tasks, region=region, searcher=r.searcher)


@bp.route("/tasks", methods=["GET", "POST"])
def tasks():
    if request.method == "GET":
        return render_template("tasks.html", result=None, tasks_json="", region="",
                               region_options=res().region_options)
    items, columns = _tasks_from_form()
    result = _check(items)
    return render_template("tasks.html", result=result, tasks_json=json.dumps(items, ensure_ascii=False),
                           columns=columns, region=request.form.get("region") or "",
                           region_options=res().region_options)


@bp.post("/tasks/report")
def tasks_report():
    result = _check(_tasks_from_form()[0])
    body = tool("taskcheck").report_xlsx(result)
    return Response(body, mimetype=XLSX, headers={
        "Content-Disposition": "attachment; filename=\"task-report.xlsx\"; "
                               f"filename*=UTF-8''{quote('任务法律依据检查报告.xlsx')}"})


@bp.route("/convention", methods=["GET", "POST"])
def convention():
    if request.method == "GET":
        return render_template("convention.html", result=None, text="")
    got = upload(request.files.get("file"))
    text = document_text(*got) if got is not None else (request.form.get("text") or "")
    if len(text) > params.MAX_TEXT_CHARS:
        raise WebError(413, f"文字太长：最多 {params.MAX_TEXT_CHARS} 字")
    if not text.strip():
        raise WebError(400, "请粘贴公约或规约的文字，或上传 TXT / MD / DOCX 文件")
    result = tool("convention").check_convention(res().kb, text)
    return render_template("convention.html", result=result, text=text)
