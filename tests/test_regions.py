from collections import Counter

import pytest

from lawkb.core.regions import (
    CITY_KINDS,
    KINDS,
    PROVINCE_KINDS,
    SEZ_KIND,
    Region,
    cities_of,
    normalize_region,
    province_full_name,
    provinces,
    region_from_body,
    region_from_title,
    region_rows,
)

# --- the table -------------------------------------------------------------------------------------------


def _count(province_short: str, kinds: set[str]) -> int:
    return sum(1 for r in region_rows() if r.province_short == province_short and r.kind in kinds)


def test_every_row_has_a_known_kind_and_a_province_row():
    rows = region_rows()
    assert rows, "regions.tsv is empty"
    province_rows = {r.province_short: r for r in rows if r.kind in PROVINCE_KINDS}
    for row in rows:
        assert row.kind in KINDS, row
        assert row.province and row.province_short, row
        assert row.province_short in province_rows, row
        assert province_rows[row.province_short].province == row.province, row
        if row.kind in PROVINCE_KINDS:
            assert row.city == "" and row.city_short == "", row
        else:
            assert row.city, row


def test_province_level_divisions():
    kinds = Counter(r.kind for r in region_rows() if r.kind in PROVINCE_KINDS)
    assert kinds == {"province": 23, "municipality": 4, "autonomous_region": 5, "sar": 2}
    assert len(provinces()) == 34
    assert provinces()[:4] == ["北京", "天津", "河北", "山西"]
    assert {"台湾", "香港", "澳门", "内蒙古", "广西", "西藏", "宁夏", "新疆"} <= set(provinces())
    municipalities = {r.province for r in region_rows() if r.kind == "municipality"}
    assert municipalities == {"北京市", "天津市", "上海市", "重庆市"}
    full = {r.province_short: r.province for r in region_rows() if r.kind in PROVINCE_KINDS}
    assert full["广西"] == "广西壮族自治区"
    assert full["宁夏"] == "宁夏回族自治区"
    assert full["新疆"] == "新疆维吾尔自治区"
    assert full["西藏"] == "西藏自治区"
    assert full["香港"] == "香港特别行政区"
    assert full["台湾"] == "台湾省"


def test_national_totals_of_prefecture_level_divisions():
    kinds = Counter(r.kind for r in region_rows())
    # 333 prefecture-level divisions: 293 地级市, 7 地区, 30 自治州, 3 盟.
    assert kinds["prefecture_city"] == 293
    assert kinds["prefecture"] == 7
    assert kinds["autonomous_prefecture"] == 30
    assert kinds["league"] == 3


@pytest.mark.parametrize("province, prefecture_cities, all_prefecture_level", [
    ("广东", 21, 21),
    ("浙江", 11, 11),
    ("山东", 16, 16),
    ("河南", 17, 17),
    ("江苏", 13, 13),
    ("四川", 18, 21),
    ("海南", 4, 4),
    ("河北", 11, 11),
    ("湖北", 12, 13),
    ("湖南", 13, 14),
    ("安徽", 16, 16),
    ("内蒙古", 9, 12),
    ("吉林", 8, 9),
    ("黑龙江", 12, 13),
    ("云南", 8, 16),
    ("青海", 2, 8),
    ("新疆", 4, 14),
    ("西藏", 6, 7),
    ("贵州", 6, 9),
    ("甘肃", 12, 14),
    ("北京", 0, 0),
    ("重庆", 0, 0),
    ("香港", 0, 0),
])
def test_city_counts(province, prefecture_cities, all_prefecture_level):
    assert _count(province, {"prefecture_city"}) == prefecture_cities
    prefecture_level = {"prefecture_city", "prefecture", "autonomous_prefecture", "league"}
    assert _count(province, prefecture_level) == all_prefecture_level


def test_known_membership():
    shandong = cities_of("山东")
    assert "莱芜" not in shandong  # merged into 济南 in 2019
    assert "济南" in shandong and "青岛" in shandong
    assert set(cities_of("海南")) >= {"海口", "三亚", "三沙", "儋州"}
    assert "巢湖" not in cities_of("安徽")  # abolished 2011
    assert "襄阳" in cities_of("湖北")
    assert "那曲" in cities_of("西藏")


def test_short_names_follow_the_rule():
    for row in region_rows():
        if row.kind == "prefecture_city":
            assert row.city == row.city_short + "市", row
        elif row.kind == "prefecture":
            assert row.city == row.city_short + "地区", row
        elif row.kind == "league":
            assert row.city == row.city_short + "盟", row
        elif row.kind == "autonomous_prefecture":
            assert row.city.startswith(row.city_short) and row.city.endswith("自治州"), row
            assert "族" not in row.city_short and "自治" not in row.city_short, row
    shorts = {r.city: r.city_short for r in region_rows() if r.city}
    assert shorts["延边朝鲜族自治州"] == "延边"
    assert shorts["大兴安岭地区"] == "大兴安岭"
    assert shorts["锡林郭勒盟"] == "锡林郭勒"
    assert shorts["海西蒙古族藏族自治州"] == "海西"
    assert shorts["博尔塔拉蒙古自治州"] == "博尔塔拉"


def test_jiyuan_is_a_noted_county_level_city():
    (row,) = [r for r in region_rows() if r.city == "济源市"]
    assert row.province == "河南省"
    assert row.kind == "subprovincial_note"
    assert "省直辖" in row.note
    assert "济源" in cities_of("河南")


def test_special_economic_zones():
    sez = {r.city: (r.province_short, r.city_short) for r in region_rows() if r.kind == SEZ_KIND}
    assert sez == {
        "深圳经济特区": ("广东", "深圳"),
        "珠海经济特区": ("广东", "珠海"),
        "汕头经济特区": ("广东", "汕头"),
        "厦门经济特区": ("福建", "厦门"),
        "海南经济特区": ("海南", ""),
    }
    # Zones are names, not extra cities in the selectors.
    assert cities_of("广东").count("深圳") == 1
    assert len(cities_of("广东")) == 21


def test_city_kinds_cover_the_selectors():
    for province in provinces():
        expected = [r.city_short for r in region_rows()
                    if r.province_short == province and r.kind in CITY_KINDS]
        assert cities_of(province) == expected


# --- normalize_region ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("杭州", Region("浙江", "杭州")),
    ("杭州市", Region("浙江", "杭州")),
    ("浙江", Region("浙江")),
    ("浙江省", Region("浙江")),
    ("浙江省杭州市", Region("浙江", "杭州")),
    ("浙江杭州", Region("浙江", "杭州")),
    ("浙江省 杭州市", Region("浙江", "杭州")),
    ("\u3000杭州市\u3000", Region("浙江", "杭州")),
    ("内蒙古", Region("内蒙古")),
    ("内蒙古自治区", Region("内蒙古")),
    ("广西壮族自治区", Region("广西")),
    ("广西自治区", Region("广西")),
    ("新疆维吾尔自治区", Region("新疆")),
    ("北京", Region("北京")),
    ("北京市", Region("北京")),
    ("重庆市", Region("重庆")),
    ("香港特别行政区", Region("香港")),
    ("澳门", Region("澳门")),
    ("深圳经济特区", Region("广东", "深圳")),
    ("厦门经济特区", Region("福建", "厦门")),
    ("海南经济特区", Region("海南")),
    ("延边朝鲜族自治州", Region("吉林", "延边")),
    ("延边州", Region("吉林", "延边")),
    ("延边", Region("吉林", "延边")),
    ("大兴安岭地区", Region("黑龙江", "大兴安岭")),
    ("锡林郭勒盟", Region("内蒙古", "锡林郭勒")),
    ("吉林", Region("吉林")),          # the province, not the city
    ("吉林市", Region("吉林", "吉林")),
    ("吉林省吉林市", Region("吉林", "吉林")),
    ("海南", Region("海南")),          # the province, not 青海's 海南藏族自治州
    ("海南藏族自治州", Region("青海", "海南")),
    ("青海省海南藏族自治州", Region("青海", "海南")),
    ("海南州", Region("青海", "海南")),
    ("济源市", Region("河南", "济源")),
    ("济源", Region("河南", "济源")),
    ("襄阳市", Region("湖北", "襄阳")),
])
def test_normalize_region(name, expected):
    assert normalize_region(name) == expected


@pytest.mark.parametrize("name", [
    "", "   ", "Zhejiang", "火星", "莱芜", "莱芜市", "巢湖市", "襄樊市", "浙江省南京市", "杭州省",
    "中国", "全国",
])
def test_normalize_region_unknown(name):
    assert normalize_region(name) is None


def test_region_is_frozen_and_hashable():
    region = Region("浙江", "杭州")
    with pytest.raises(AttributeError):
        region.city = "宁波"  # type: ignore[misc]
    assert {region, Region("浙江", "杭州")} == {region}


# --- region_from_title -----------------------------------------------------------------------------------


@pytest.mark.parametrize("title, expected", [
    ("杭州市城市市容和环境卫生管理条例", Region("浙江", "杭州")),
    ("浙江省物业管理条例", Region("浙江")),
    ("深圳经济特区物业管理条例", Region("广东", "深圳")),
    ("珠海经济特区道路交通安全管理条例", Region("广东", "珠海")),
    ("厦门经济特区生态文明建设条例", Region("福建", "厦门")),
    ("海南经济特区禁毒条例", Region("海南")),
    ("北京市实施《中华人民共和国保守国家秘密法》若干规定", Region("北京")),
    ("上海市消费者权益保护条例", Region("上海")),
    ("重庆市物业管理条例", Region("重庆")),
    ("延边朝鲜族自治州朝鲜语言文字工作条例", Region("吉林", "延边")),
    ("恩施土家族苗族自治州自治条例", Region("湖北", "恩施")),
    ("海南藏族自治州草原管理条例", Region("青海", "海南")),
    ("海南省生态保护红线管理规定", Region("海南")),
    ("云南省大理白族自治州洱海保护管理条例", Region("云南", "大理")),
    ("广东省深圳市某条例", Region("广东", "深圳")),
    ("吉林市松花江流域水污染防治条例", Region("吉林", "吉林")),
    ("吉林省物业管理条例", Region("吉林")),
    ("内蒙古自治区草原管理条例", Region("内蒙古")),
    ("广西壮族自治区土地山权属纠纷调解处理条例", Region("广西")),
    ("锡林郭勒盟草原管理条例", Region("内蒙古", "锡林郭勒")),
    ("香港特别行政区某条例", Region("香港")),
    ("《杭州市物业管理条例》", Region("浙江", "杭州")),
    ("  长沙市城市管理条例", Region("湖南", "长沙")),
    ("长春市城市供水条例", Region("吉林", "长春")),
    ("湘西州某条例", Region("湖南", "湘西")),
    ("济源市某规定", Region("河南", "济源")),
    ("中山市某条例", Region("广东", "中山")),
])
def test_region_from_title(title, expected):
    assert region_from_title(title) == expected


@pytest.mark.parametrize("title", [
    "中华人民共和国民法典",
    "中华人民共和国长江保护法",
    "长江保护修复攻坚战行动计划",
    "国务院关于加强法治政府建设的意见",
    "中国（上海）自由贸易试验区条例",
    "全国人民代表大会常务委员会关于设立国家宪法日的决定",
    "最高人民法院关于适用《中华人民共和国民法典》时间效力的若干规定",
    "物业管理条例",
    "杭州西湖文化景观保护管理条例",  # bare short name without a suffix
    "海南自由贸易港法",
    "浙江",
    "",
])
def test_region_from_title_none(title):
    assert region_from_title(title) is None


# --- region_from_body ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, expected", [
    ("浙江省人民代表大会常务委员会", Region("浙江")),
    ("杭州市第十四届人民代表大会常务委员会第十次会议", Region("浙江", "杭州")),
    ("北京市人民政府", Region("北京")),
    ("广东省第九届人民代表大会常务委员会", Region("广东")),
    ("深圳市人民代表大会常务委员会", Region("广东", "深圳")),
    ("2019年8月28日杭州市第十三届人民代表大会常务委员会第二十次会议通过", Region("浙江", "杭州")),
    ("浙江省人民政府令第388号", Region("浙江")),
    ("延边朝鲜族自治州人民代表大会", Region("吉林", "延边")),
    ("内蒙古自治区人民政府", Region("内蒙古")),
])
def test_region_from_body(body, expected):
    assert region_from_body(body) == expected


@pytest.mark.parametrize("body", [
    "全国人民代表大会常务委员会",
    "第十三届全国人民代表大会第三次会议",
    "国务院",
    "最高人民法院审判委员会第1823次会议",
    "国家市场监督管理总局",
    "人力资源社会保障部",
    "海关总署",
    "长江水利委员会",
    "XX省第十届人民代表大会常务委员会",
])
def test_region_from_body_none(body):
    assert region_from_body(body) is None


def test_cities_of():
    assert cities_of("浙江") == [
        "杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水",
    ]
    assert cities_of("浙江省") == cities_of("浙江")
    assert cities_of("北京") == []
    assert cities_of("台湾") == []
    assert cities_of("火星") == []
    assert cities_of("杭州") == []  # a city, not a province
    assert "延边" in cities_of("吉林")
    assert "大兴安岭" in cities_of("黑龙江")
    # The returned lists are copies.
    cities_of("浙江").append("x")
    assert "x" not in cities_of("浙江")


def test_province_full_name():
    assert province_full_name("浙江") == "浙江省"
    assert province_full_name("广西") == "广西壮族自治区"
    assert province_full_name("北京") == "北京市"
    assert province_full_name("火星") is None
