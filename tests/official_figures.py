"""Published figures the official forms are tested on: the seed's 2017 table and a county's 2023 report."""

# 政府信息公开情况统计表（2017年度）, 余姚市科学技术协会, as published. Blank in the report: A8_4
# (专项经费), A9_1 (会议数), A9_2 (培训班数) — they stay absent.
SEED_2017 = {
    "A1_1": 100, "A1_1a": 33, "A1_1b": 33,
    "A1_2_1": 0, "A1_2_2": 639, "A1_2_3": 90, "A1_2_4": 90, "A1_2_5": 543,
    "A2_1": 0, "A2_2_1": 0, "A2_2_1a": 0, "A2_2_2": 0, "A2_2_2a": 0, "A2_2_3": 0, "A2_2_4": 0, "A2_2_5": 0,
    "A3_1": 0, "A3_1_1": 0, "A3_1_2": 0, "A3_1_3": 0, "A3_1_4": 0,
    "A3_2": 0, "A3_2_1": 0, "A3_2_2": 0,
    "A3_3": 0, "A3_3_1": 0, "A3_3_2": 0, "A3_3_3": 0, "A3_3_4": 0,
    "A3_3_4a": 0, "A3_3_4b": 0, "A3_3_4c": 0, "A3_3_4d": 0, "A3_3_4e": 0, "A3_3_4f": 0,
    "A3_3_5": 0, "A3_3_6": 0, "A3_3_7": 0, "A3_3_8": 0,
    "A4": 0, "A4_1": 0, "A4_2": 0, "A4_3": 0,
    "A5": 0, "A5_1": 0, "A5_2": 0, "A5_3": 0,
    "A6": 0, "A7": 0,
    "A8_1": 1, "A8_2": 2, "A8_3": 3, "A8_3_1": 0, "A8_3_2": 3,
    "A9_3": 2,
}

SEED_BLANK = {"A8_4", "A9_1", "A9_2"}

# A county, 2023 report: tables 二 and 四 as published (formats.md gives only the first row of
# table 三 — 新收 143, of which 自然人 140 — so table 三 is left out here).
COUNTY_2023 = {
    "B2_norm.made": 3, "B2_norm.repealed": 6, "B2_norm.valid": 14,
    "B2_permit.count": 54408,
    "B2_punish.count": 2086, "B2_force.count": 1272,
    "B2_fee.amount": 14722.49,
    "B4.ld_keep": 2, "B4.ld_other": 1, "B4.ld_total": 0,
}
