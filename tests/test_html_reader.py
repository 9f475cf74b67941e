"""HTML reader on the real sample pages (via LAWKB_SHARED) and on pages built here."""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import pytest

from lawkb.ingest.blocks import IngestError
from lawkb.ingest.html_reader import read_html

SAMPLES = Path(os.environ.get("LAWKB_SHARED", "/work/shared")) / "corpus" / "samples" / "html"
ARTICLE = re.compile(r"^第[一二三四五六七八九十百千零〇两\d]+[条條]")

ZHUANLI = "govcn-fragment_专利代理条例_国令706.html"
GESHUI = "govcn-fragment_国务院关于印发个人所得税专项附加扣除暂行办法的通知_国发2018-41.html"
GONGZUO = "govcn-fragment_国务院关于印发国务院工作规则的通知_国发2004-18.html"
HEHUO = "wikijs-export_中华人民共和国合伙企业法.html"
FLK_SHELL = "flk-detail2-shell_中华人民共和国增值税法.html"
GOVCN = [ZHUANLI, GESHUI, GONGZUO]


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample corpus file not found: {path} (set LAWKB_SHARED to the shared folder)")
    return path


def articles(blocks) -> int:
    return sum(1 for b in blocks if b.style != "table" and ARTICLE.match(b.text))


# Counts checked by reading each page: labels run 第一条…第N条 without gaps.
@pytest.mark.parametrize("name, expected", [
    (ZHUANLI, 32),   # 5 章, 32 条
    (GESHUI, 32),    # the notice, then the 办法 with 9 章, 32 条
    (GONGZUO, 0),    # a 规则 numbered 一、二、… up to 五十四、, no 条
    (HEHUO, 109),    # Wiki.js export, every 条 after a <br>
])
def test_article_counts(name: str, expected: int) -> None:
    ex = read_html(sample(name))
    assert ex.source_kind == "html"
    assert articles(ex.blocks) == expected


def test_gongzuo_guize_items_all_present() -> None:
    texts = [b.text for b in read_html(sample(GONGZUO)).blocks]
    items = [t for t in texts if re.match(r"^[一二三四五六七八九十]+、", t)]
    assert len(items) == 54 and items[-1].startswith("五十四、")
    assert "第一章\u3000总  则" in texts  # `总 &nbsp;则`: the &nbsp; became a space, not dropped
    assert "国 务 院 工 作 规 则" in texts


@pytest.mark.parametrize("name, expected", [
    (ZHUANLI, {"index_no": "000014349/2018-00206", "subject": "科技、教育\\知识产权", "issuing_body": "国务院",
               "written_date": "2018-11-06", "title": "专利代理条例", "doc_number": "国令第706号",
               "published_date": "2018-11-19"}),
    (GESHUI, {"issuing_body": "国务院", "title": "国务院关于印发个人所得税专项附加扣除暂行办法的通知",
              "doc_number": "国发〔2018〕41号", "written_date": "2018-12-13", "published_date": "2018-12-22"}),
    (GONGZUO, {"title": "国务院关于印发《国务院工作规则》的通知", "doc_number": "国发〔2004〕18号",
               "written_date": "2004-06-26", "published_date": "2018-12-03"}),
])
def test_govcn_metadata(name: str, expected: dict) -> None:
    ex = read_html(sample(name))
    assert {k: ex.meta.get(k) for k in expected} == expected


@pytest.mark.parametrize("name", GOVCN)
def test_govcn_chrome_not_in_blocks(name: str) -> None:
    ex = read_html(sample(name))
    for block in ex.blocks:
        t = block.text
        assert t and t == t.strip()
        for junk in ("索 引 号", "主题分类", "发文机关", "成文日期", "发文字号", "发布日期", "主 题 词", "000014349/",
                     "扫一扫", "-->", "\xa0"):
            assert junk not in t, t
    assert ex.meta["index_no"] not in "".join(b.text for b in ex.blocks)


def test_zhuanli_order_text_and_fullwidth_digits_kept() -> None:
    texts = [b.text for b in read_html(sample(ZHUANLI)).blocks]
    assert texts[:2] == ["中华人民共和国国务院令", "第706号"]
    assert texts[3:5] == ["总理\u3000\u3000李克强", "2018年11月6日"]
    assert texts[5] == "专利代理条例"
    assert texts[6] == "（1991年3月4日中华人民共和国国务院令第76号发布\u30002018年9月6日国务院第23次常务会议修订通过）"
    assert any("实习满１年" in t for t in texts)  # full-width digit as printed, no NFKC
    assert texts[-1].startswith("本条例施行前依法设立的专利代理机构")


def test_geshui_notice_then_attachment() -> None:
    ex = read_html(sample(GESHUI))
    texts = [b.text for b in ex.blocks]
    assert texts[:3] == ["国务院关于印发个人所得税", "专项附加扣除暂行办法的通知", "国发〔2018〕41号"]
    assert [b.style for b in ex.blocks[:3]] == ["center"] * 3
    assert "（此件公开发布）" in texts
    assert texts.index("（此件公开发布）") < texts.index("个人所得税专项附加扣除暂行办法")
    assert texts[-1] == "第三十二条\u3000本办法自2019年1月1日起施行。"


def test_main_content_found_without_ucap_id() -> None:
    """The generic choice (smallest element with most non-link CJK text) finds the same body."""
    path = sample(ZHUANLI)
    raw = path.read_bytes().replace(b'id="UCAP-CONTENT"', b'id="content"')
    ex = read_html(path, raw)
    assert articles(ex.blocks) == 32
    assert ex.meta["doc_number"] == "国令第706号"
    assert not any("扫一扫" in b.text or "主 题 词" in b.text for b in ex.blocks)


def test_wikijs_front_matter_and_headings() -> None:
    ex = read_html(sample(HEHUO))
    assert ex.meta["title"] == "中华人民共和国合伙企业法"
    assert ex.blocks[0].text == "中华人民共和国合伙企业法(2006修订)"
    assert (ex.blocks[1].text, ex.blocks[1].style, ex.blocks[1].level) == ("第一章 总 则", "heading", 2)
    sections = [b for b in ex.blocks if b.style == "heading" and b.level == 3]
    assert sections and all(re.match(r"^第[一二三四五六]节 ", b.text) for b in sections)
    assert ex.blocks[2].line == 14  # source line of `<p>第一条 …`
    assert not any("title:" in b.text or "editor:" in b.text for b in ex.blocks)


def test_flk_shell_is_refused() -> None:
    with pytest.raises(IngestError, match=r"^flk\.npc\.gov\.cn page shell: the law text is loaded by JavaScript"):
        read_html(sample(FLK_SHELL))


# --- pages built here ----------------------------------------------------------------------------

# gov.cn's 2014 template as saved from a browser (职工带薪年休假条例, 国务院令第514号): site chrome,
# widgets, every 条 in one <p> separated by <br/>, and a second HTML document (the site footer, full of
# <option> names) pasted after the article.
ARTICLES_514 = [
    "为了维护职工休息休假权利，调动职工工作积极性，根据劳动法和公务员法，制定本条例。",
    "机关、团体、企业、事业单位、民办非企业单位、有雇工的个体工商户等单位的职工连续工作1年以上的，享受带薪年休假（以下简称年休假）。"
    "单位应当保证职工享受年休假。职工在年休假期间享受与正常工作期间相同的工资收入。",
    "职工累计工作已满1年不满10年的，年休假5天；已满10年不满20年的，年休假10天；已满20年的，年休假15天。",
    "职工有下列情形之一的，不享受当年的年休假：",
    "单位根据生产、工作的具体情况，并考虑职工本人意愿，统筹安排职工年休假。",
    "县级以上地方人民政府人事部门、劳动保障部门应当依据职权对单位执行本条例的情况主动进行监督检查。",
    "单位不安排职工休年休假又不依照本条例规定给予年休假工资报酬的，由县级以上地方人民政府人事部门或者劳动保障部门"
    "依据职权责令限期改正。",
    "职工与单位因年休假发生的争议，依照国家有关法律、行政法规的规定处理。",
    "国务院人事部门、国务院劳动保障部门依据职权，分别制定本条例的实施办法。",
    "本条例自2008年1月1日起施行。",
]
NUMS = "一二三四五六七八九十"


def _govcn_2014_page(charset: str = "utf-8") -> str:
    body = "<br/>\n".join(f"    <strong>第{NUMS[i]}条</strong>  {text}" for i, text in enumerate(ARTICLES_514))
    body = body.replace("年休假：", "年休假：<br/>\n    （一）职工依法享受寒暑假，其休假天数多于年休假天数的；")
    options = "\n".join(f"<option value=''>{name}</option>" for name in
                        ["外交部", "国防部", "发展改革委", "教育部", "科技部", "工业和信息化部", "国家民委", "公安部"] * 30)
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}"/>
<title> 职工带薪年休假条例（国务院令第514号）_中华人民共和国中央人民政府门户网站</title></head>
<body><div id="HomePage"><div class="spe-top"><div class="language"><a href="#">简体</a> | <a href="#">繁体</a></div>
<div class="oldLink"><a href="#">旧版回顾</a></div></div>
<div class="topNav"><div class="menuList"><ul><li><a href="#">国务院</a></li><li><a href="#">新闻</a></li></ul></div></div>
<div class="BreadcrumbNav"><a href="#">首页</a><font>&gt; </font><a href="#">政策</a></div>
<!--/面包屑-->
<div class="article-colum"><div class="pages-title"> 职工带薪年休假条例（国务院令第514号）</div>
<div class="pages-date"><span class="font">中央政府门户网站　www.gov.cn</span> 2007-12-16 10:44</div>
<div class="pages_print"><span class="font index_switchsize">【字体：<span>大</span> <span>中</span> <span>小</span>】</span>
<span class="font printIco" id="btnPrint">打印本页</span>
<div class="share"><span class="gwdtitle">分享</span><div style="display: none;"><a>新华微博</a><a>人民微博</a></div></div></div>
<div class="pages_content"><table width="100%" id="printContent"><tr><td align="left" valign="top">
<p align="center"><font size="1" style="FONT-SIZE: 18pt"><strong>中华人民共和国国务院令<br/></strong></font><font face="楷体_GB2312">第514号</font></p>
<p>    《职工带薪年休假条例》已经2007年12月7日国务院第198次常务会议通过，现予公布，自2008年1月1日起施行。<br/>
                                                   总理   温家宝<br/>
                                                   二○○七年十二月十四日</p>
<p>&#160;</p>
<p align="center"><strong><font size="1" style="FONT-SIZE: 18pt">职工带薪年休假条例</font></strong></p>
<p>{body}</p>
</td></tr></table>
<div class="editor">责任编辑：  马娟
</div></div></div></div>
<!--底部开始-->
<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN">
<!-- saved from url=(0043)https://www.gov.cn/2014xinban/inc_foot.shtml -->
<HTML><head><script>var gwdshare = {{ version: "1.0" }};</script></HEAD>
<BODY><div class="public_foot"><div class="cate01"><span><a href="#">全国人大</a></span><span><a href="#">全国政协</a></span></div>
<ul><li><select name="select1">{options}</select></li></ul>
<div class="copy">版权所有：<a href="#">中国政府网</a> | <a href="#">关于我们</a><br>
京ICP备05070218号 中文域名：中国政府网.政务</div></div>
<div class="gov_weixin_share"><p>中国政府网<br><a href="#">微博、微信</a></p></div>
</BODY></HTML>
<!--底部结束-->
</body></html>
"""


def _write(tmp_path: Path, data: bytes, name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_govcn_2014_page_one_block_per_article(tmp_path: Path) -> None:
    ex = read_html(_write(tmp_path, _govcn_2014_page().encode("utf-8")))
    texts = [b.text for b in ex.blocks]
    assert texts[:5] == ["中华人民共和国国务院令", "第514号",
                         "《职工带薪年休假条例》已经2007年12月7日国务院第198次常务会议通过，现予公布，自2008年1月1日起施行。",
                         "总理 温家宝", "二○○七年十二月十四日"]
    assert texts[5] == "职工带薪年休假条例" and ex.blocks[5].style == "center"
    labelled = [t for t in texts if ARTICLE.match(t)]
    assert labelled == [f"第{NUMS[i]}条 {text}" for i, text in enumerate(ARTICLES_514)]
    assert "（一）职工依法享受寒暑假，其休假天数多于年休假天数的；" in texts
    assert texts[-1] == "第十条 本条例自2008年1月1日起施行。"
    page = "".join(texts)
    for junk in ("外交部", "国务院部门", "全国人大", "京ICP备", "字体", "打印本页", "分享", "新华微博", "责任编辑", "首页",
                 "旧版回顾", "中央政府门户网站", "www.gov.cn", "gwdshare", "saved from"):
        assert junk not in page, junk
    assert ex.meta["page_title"].startswith("职工带薪年休假条例（国务院令第514号）")


def test_declared_gb2312_holding_gbk_characters(tmp_path: Path) -> None:
    # 镕 is in GBK but not in GB2312: a strict gb2312 decoder would fail on the page.
    html = _govcn_2014_page("gb2312").replace("总理   温家宝", "总理   朱镕基")
    ex = read_html(_write(tmp_path, html.encode("gb18030")))
    assert "总理 朱镕基" in [b.text for b in ex.blocks]
    assert ex.warnings == []


def test_undeclared_gbk_falls_back_to_gb18030(tmp_path: Path) -> None:
    html = _govcn_2014_page().replace('<meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>', "")
    ex = read_html(_write(tmp_path, html.encode("gbk")))
    assert articles(ex.blocks) == 10


def test_wrong_declared_charset_is_reported(tmp_path: Path) -> None:
    ex = read_html(_write(tmp_path, _govcn_2014_page("utf-8").encode("gbk")))
    assert articles(ex.blocks) == 10
    assert ex.warnings == ["declared charset utf-8 is wrong; decoded as gb18030"]


def test_stale_gb2312_declaration_on_utf8_bytes(tmp_path: Path) -> None:
    # GB18030 would decode these UTF-8 bytes without an error, into nonsense; UTF-8 must win.
    ex = read_html(_write(tmp_path, _govcn_2014_page("gb2312").encode("utf-8")))
    assert [b.text for b in ex.blocks][5] == "职工带薪年休假条例"
    assert ex.warnings == ["declared charset gb18030 is wrong; decoded as utf-8"]


def test_utf8_bom_and_raw_bytes_argument(tmp_path: Path) -> None:
    raw = codecs.BOM_UTF8 + _govcn_2014_page("gb2312").encode("utf-8")  # the BOM wins over the meta tag
    ex = read_html(tmp_path / "not-read.html", raw)
    assert articles(ex.blocks) == 10
    assert not ex.blocks[0].text.startswith("\ufeff")


def test_undecodable_bytes(tmp_path: Path) -> None:
    raw = _govcn_2014_page().encode("utf-8").replace("第三条".encode(), b"\xff\xfe\xff" * 400)
    with pytest.raises(IngestError, match=r"^undecodable HTML"):
        read_html(_write(tmp_path, raw))


def test_page_without_law_text(tmp_path: Path) -> None:
    html = "<html><head><title>首页</title></head><body><nav>首页 新闻</nav><p>欢迎访问本网站。</p>" \
           "<div class='footer'>版权所有</div></body></html>"
    with pytest.raises(IngestError, match=r"^no law text found in HTML page"):
        read_html(_write(tmp_path, html.encode("utf-8")))


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"^empty file"):
        read_html(_write(tmp_path, b""))


def test_data_table_rows_and_wrapped_source_lines(tmp_path: Path) -> None:
    law = "".join(f"<p>第{NUMS[i]}条　{t}</p>\n" for i, t in enumerate(ARTICLES_514))
    html = f"""<html><body><div class="content"><h1>职工带薪年休假条例</h1>
<p>第一章　总　　则</p>{law}<p>中华人民<span style="display:none">隐藏</span>共和
国劳动法</p>
<table><tr><th>法律规定</th><th>调整内容</th></tr>
<tr><td><p>第三十一条第一款</p></td><td>本物业管理区域<br>车辆出入口</td></tr></table></div></body></html>"""
    ex = read_html(_write(tmp_path, html.encode("utf-8")))
    assert (ex.blocks[0].text, ex.blocks[0].style, ex.blocks[0].level) == ("职工带薪年休假条例", "heading", 1)
    assert "中华人民共和国劳动法" in [b.text for b in ex.blocks]  # a source line break between CJK is no space
    assert [b.text for b in ex.blocks if b.style == "table"] == ["法律规定 | 调整内容",
                                                                 "第三十一条第一款 | 本物业管理区域车辆出入口"]
    assert articles(ex.blocks) == 10


# An old FrontPage reprint (ldbj.com, `charset=gb2312`, GBK bytes): the law is one <p> of <br>-separated
# lines, the editor wrapped source lines after a space (`第二条 \n中华…`), and link lists surround it.
LDBJ_PAGE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>中华人民共和国劳动合同法-2012</title></head>
<body><!--mstheme--><font face="宋体"><iframe src="https://www.ldbj.com/js/peixunwang.htm"></iframe>
<div class="zhengwen"><div class="left"><script src="https://www.ldbj.com/js/peixun_a.js"></script></div>
<div class="mid">
<p align="left"><a href="laodonghetongfa_084.htm">劳动合同法上一页</a>&nbsp;<a href="../falv/falv.htm">法律</a>
 <a href="../zhengce_fagui/laodongfa.htm">中华人民共和国劳动法</a>
<a href="laodonghetongfa.htm">劳动合同法</a>
</p>
<p align="left">中华人民共和国劳动合同法<br>
<br>
　　（2007年6月29日第十届全国人民代表大会常务委员会第二十八次会议通过）<br>
<br>
　　目 录<br>
<br>
　　第一章 总则<br>
<br>
　　第一章 总则<br>
<br>
　　第一条 为了完善劳动合同制度，明确劳动合同双方当事人的权利和义务，保护劳动者的合法权益，构建和发展和谐稳定的劳动关系，制定本法。<br>
<br>
　　第二条\x20
中华人民共和国境内的企业、个体经济组织、民办非企业单位等组织（以下称用人单位）与劳动者建立劳动关系，订立、履行、变更、解除或者终止劳动合同，适用本法。<br>
<br>
　　国家机关、事业单位、社会团体和与其建立劳动关系的劳动者，订立、履行、变更、解除或者终止劳动合同，依照本法执行。<br>
<br>
　　第三条 订立劳动合同，应当遵循合法、公平、平等自愿、协商一致、诚实信用的原则。<br>
<br>
　　第四条 用人单位应当依法建立和完善劳动规章制度，保障劳动者享有劳动权利、履行劳动义务。<br>
<br>
　　第九十八条 本法自2008年1月1日起施行。</p>
<p align="left">更多阅读：</p>
<p align="left"><a href="laodonghetongfa_shishitiaoli.htm">劳动合同法实施条例</a> <a href="x.htm">劳动合同法宣传</a>
</p>
<p align="left"><a href="../tangshisongci/tangshisongci.htm">唐诗宋词</a> <a href="../quantangshi/quantangshi.htm">全唐诗</a>
<a href="../lunyu/lunyu.htm">论语</a> (<a href="../mirror.htm">沉鱼落雁</a>
<a href="../ffff/meinv.htm">闭月羞花</a>)版
</p>
</div>
<div class="footer"><script src="https://www.ldbj.com/js/fenxiang.js"></script></div>
</div><!--mstheme--></font></body></html>
"""


def test_frontpage_reprint_in_gbk(tmp_path: Path) -> None:
    ex = read_html(_write(tmp_path, LDBJ_PAGE.encode("gbk")))
    texts = [b.text for b in ex.blocks]
    assert texts[0] == "中华人民共和国劳动合同法"
    assert texts.count("第一章 总则") == 2  # TOC line and heading, both kept
    assert "第二条 中华人民共和国境内的企业、个体经济组织、民办非企业单位等组织（以下称用人单位）与劳动者建立劳动关系，" \
           "订立、履行、变更、解除或者终止劳动合同，适用本法。" in texts
    assert [t[:4] for t in texts if ARTICLE.match(t)] == ["第一条 ", "第二条 ", "第三条 ", "第四条 ", "第九十八"]
    page = "".join(texts)
    assert texts[-1] == "第九十八条 本法自2008年1月1日起施行。"  # `更多阅读：` and the link lists are gone
    for junk in ("上一页", "劳动合同法实施条例", "唐诗宋词", "闭月羞花", "宋体"):
        assert junk not in page, junk
    assert ex.warnings == []
