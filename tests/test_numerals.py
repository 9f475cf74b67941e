import pytest

from lawkb.core.numerals import article_no_text, cn_to_int, int_to_cn
from lawkb.core.refs import parse_article_no, parse_ref


@pytest.mark.parametrize("text,value", [
    ("一", 1), ("十", 10), ("十五", 15), ("二十", 20), ("一百一十", 110), ("一百零五", 105),
    ("一千零三十二", 1032), ("一千二百六十", 1260), ("两千", 2000), ("二〇二〇", 2020), ("一九九九", 1999),
    ("1032", 1032), ("１０３２", 1032), ("三万零五", 30005), ("壹佰", 100),
])
def test_cn_to_int(text, value):
    assert cn_to_int(text) == value


def test_round_trip_every_article_number_statutes_use():
    for n in range(1, 3001):
        assert cn_to_int(int_to_cn(n)) == n
    assert int_to_cn(10) == "十" and int_to_cn(110) == "一百一十" and int_to_cn(1032) == "一千零三十二"


@pytest.mark.parametrize("bad", ["", "条", "abc", "一x"])
def test_cn_to_int_rejects(bad):
    with pytest.raises(ValueError):
        cn_to_int(bad)


def test_article_labels():
    assert parse_article_no("第二百六十四条之一") == (264, 1)
    assert parse_article_no("第 1 條") == (1, 0)
    assert parse_article_no("第一千零三十二条") == (1032, 0)
    assert parse_article_no("第一编") is None
    assert article_no_text(264, 1) == "第二百六十四条之一"


@pytest.mark.parametrize("text,law,number,sub", [
    ("民法典 第1032条", "民法典", 1032, 0),
    ("民法典第一千零三十二条", "民法典", 1032, 0),
    ("民法典 1032", "民法典", 1032, 0),
    ("刑法第二百六十四条之一", "刑法", 264, 1),
    ("《中华人民共和国民法典》第1032条", "中华人民共和国民法典", 1032, 0),
    ("物业管理条例第十五条", "物业管理条例", 15, 0),
])
def test_parse_ref(text, law, number, sub):
    ref = parse_ref(text)
    assert (ref.law, ref.number, ref.sub) == (law, number, sub)


def test_parse_ref_rejects_plain_words():
    assert parse_ref("楼上漏水物业不管怎么办") is None
