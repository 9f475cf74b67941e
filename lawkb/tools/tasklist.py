"""Task lists as staff have them (CSV, TXT or XLSX with whatever column names the county's 交办 sheet
uses), and the audit report as a workbook they can hand on.

Which columns hold the task and the department is read from the header row; the columns used and the
columns left out are reported, so a 下达部门 column the reader did not recognise is never dropped
without a word."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from .sheets import append_row
from .uploads import UploadError, read_table

MAX_TASKS = 500   # tasks per check: one limit for the site, the API and the CLI (docs/web.md)

# Header cells as county sheets write them (工作事项名称, 交办单位（部门）), matched whole after dropping a
# bracketed note, so that a first task such as 任务分解 is not taken for a header.
_TASK_HEADER = re.compile(r"tasks?|(?:工作|承担|交办|下达|协助|服务)?(?:事项|任务|工作|职责)(?:名称|内容|清单|描述|事项)?|"
                          r"(?:工作)?内容")
_DEPT_HEADER = re.compile(r"department|dept|(?:交办|下达|派单|责任|主管|牵头|来源|业务)?(?:部门|单位|科室|机关)(?:名称)?|"
                          r"来源|交办方|下达方")
_NOTE = re.compile(r"[（(][^）)]*[）)]|\s")
_SKIP_HEADER = re.compile(r"^(?:序号|编号|no\.?|#|id)$", re.I)


@dataclass
class TaskList:
    tasks: list[dict]
    task_column: str                 # the header, or 第1列 where the file has none
    department_column: str | None
    ignored_columns: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One Chinese sentence on which columns were read."""
        def col(name: str) -> str:   # 第2列 as it is; a header in quotes
            return name if re.fullmatch(r"第\d+列", name) else f"“{name}”列"

        used = f"任务取自{col(self.task_column)}"
        used += f"，交办部门取自{col(self.department_column)}" if self.department_column else "，没有交办部门列"
        if self.ignored_columns:
            used += "；未使用的列：" + "、".join(col(c) for c in self.ignored_columns)
        return used + "。"


def read_task_list(data: bytes, filename: str) -> TaskList:
    """Tasks from an uploaded CSV / TXT (UTF-8 with or without BOM, GBK / GB18030) or XLSX (first sheet),
    one per row. A header row is recognised by its words (事项 / 任务 / 工作内容; 部门 / 单位 / 来源 /
    下达 / 交办); without one, column 1 is the task and column 2 the department. Read by the bounded
    readers of lawkb.tools.uploads; anything unreadable, unsupported or over MAX_TASKS raises their
    UploadError (a KBError with its HTTP status, a stable code and a Chinese message)."""
    try:
        rows = read_table(data, filename, max_rows=MAX_TASKS + 1)   # the tasks and a header row
    except UploadError as exc:
        if exc.code == "too_many_rows":
            raise _too_many_tasks() from None
        raise
    rows = [[c.strip() for c in row] for row in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        raise _no_tasks()
    header = [_NOTE.sub("", c.lower()) for c in rows[0]]
    t_col = next((i for i, c in enumerate(header) if _TASK_HEADER.fullmatch(c)), None)
    d_col = next((i for i, c in enumerate(header) if i != t_col and _DEPT_HEADER.fullmatch(c)), None)
    if t_col is not None:
        names = rows[0]
        rows = rows[1:]
        ignored = [names[i] or f"第{i + 1}列" for i in range(len(names))
                   if i not in (t_col, d_col) and names[i] and not _SKIP_HEADER.match(names[i])]
        t_name, d_name = names[t_col], (names[d_col] if d_col is not None else None)
    else:
        t_col, d_col = 0, (1 if any(len(r) > 1 and r[1] for r in rows) else None)
        width = max(len(r) for r in rows)
        ignored = [f"第{i + 1}列" for i in range(2, width) if any(len(r) > i and r[i] for r in rows)]
        t_name, d_name = "第1列", ("第2列" if d_col is not None else None)
    out = []
    for r in rows:
        task = r[t_col] if t_col < len(r) else ""
        if not task:
            continue
        dept = r[d_col] if d_col is not None and d_col < len(r) else ""
        out.append({"task": task, "department": dept or None})
    if not out:
        raise _no_tasks()
    if len(out) > MAX_TASKS:
        raise _too_many_tasks(len(out))
    return TaskList(out, t_name, d_name, ignored)


def read_tasks(data: bytes, filename: str) -> list[dict]:
    """The tasks of read_task_list, as [{"task", "department"}]."""
    return read_task_list(data, filename).tasks


def _no_tasks() -> UploadError:
    return UploadError(400, "no_tasks", "任务清单里没有任务：请每行写一项任务（第一行可以是表头“任务,交办部门”）")


def _too_many_tasks(count: int | None = None) -> UploadError:
    got = f"（收到 {count} 项）" if count else ""
    return UploadError(413, "too_many_tasks", f"任务清单超过 {MAX_TASKS} 项上限{got}：一次最多检查 {MAX_TASKS} 项，请分批上传")


def report_xlsx(result: dict) -> bytes:
    """The audit as an XLSX workbook: one row per task (verdict, responsible body, reasoning, provisions
    and the sentence that decides), a summary sheet with the count per verdict and per department
    (numbers as numbers), and the disclaimer."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "任务依据"
    ws.append(["序号", "任务", "交办部门", "结论", "责任主体", "依据强度", "理由", "依据条文", "决定性语句"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, t in enumerate(result["tasks"], start=1):
        deciding = [c for c in t["citations"] if c.get("role") == "deciding"] or t["citations"]
        cites = "\n".join(f"《{c['law_title']}》{c['article_no'] or ''}" for c in t["citations"])
        append_row(ws, [i, t["task"], t.get("department") or "", t["class"], t.get("body") or "",
                        t.get("strength") or "", t["reasoning"], cites, "\n".join(c["sentence"] for c in deciding)])
    for col, width in zip("ABCDEFGHI", (6, 30, 14, 14, 24, 10, 60, 36, 60), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    summary = wb.create_sheet("汇总")
    summary.append(["结论", "数量"])
    for k, v in result["summary"].items():
        append_row(summary, [k, v])
    summary.append([])
    classes = list(result["summary"])
    summary.append(["交办部门", *classes, "合计"])
    by_dept: dict[str, list[int]] = {}
    for t in result["tasks"]:
        counts = by_dept.setdefault(t.get("department") or "（未写部门）", [0] * len(classes))
        counts[classes.index(t["class"])] += 1
    for dept, counts in sorted(by_dept.items(), key=lambda kv: -sum(kv[1])):
        append_row(summary, [dept, *counts, sum(counts)])
    for row in summary.iter_rows():
        for cell in row:
            if cell.row == 1 or cell.value == "交办部门":
                cell.font = Font(bold=True)
    summary.column_dimensions["A"].width = 24
    summary.append([])
    summary.append(["本报告由程序自动生成，仅供参考，不构成法律意见。"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
