import datetime as dt

import pytest

from etl.base import normalize as n


def test_snils_checksum_official_examples():
    # 112-233-445 95: 1*9+1*8+2*7+2*6+3*5+3*4+4*3+4*2+5*1 = 95
    assert n.snils_checksum("112233445") == "95"
    assert n.snils_is_valid("11223344595")
    assert not n.snils_is_valid("11223344596")


@pytest.mark.parametrize("body", ["087654303", "999999999", "123456789", "200000000"])
def test_checksum_reduction_rules(body):
    total = sum(int(d) * w for d, w in zip(body, range(9, 0, -1)))
    expected = total if total < 100 else (0 if total in (100, 101) else (total % 101) % 100)
    assert n.snils_checksum(body) == f"{expected:02d}"


def test_normalize_snils_formats_and_excel_damage():
    assert n.normalize_snils("112-233-445 95") == ("11223344595", None)
    valid_with_zero = "0" + "12345678"
    snils = valid_with_zero + n.snils_checksum(valid_with_zero)
    assert n.normalize_snils(snils.lstrip("0")) == (snils, None)          # Excel dropped the leading zero
    assert n.normalize_snils(snils.lstrip("0") + ".0") == (snils, None)   # and made it a float
    assert n.normalize_snils("112-233-445 96") == (None, "snils_bad_checksum")
    assert n.normalize_snils("нет") == (None, "snils_not_numeric")
    assert n.normalize_snils("") == (None, None)


def test_name_key_folds_case_yo_and_latin_lookalikes():
    assert n.name_key(" СЕМЁНОВ ") == "семенов"
    assert n.name_key("Ceмeнов") == "семенов"  # Latin C and e typed by mistake
    assert n.name_key("Петрова - Водкина") == "петрова-водкина"


def test_sex_from_patronymic():
    assert n.sex_from_patronymic("Ильич") == "M"
    assert n.sex_from_patronymic("Кузьминична") == "F"
    assert n.sex_from_patronymic("") is None


def test_parse_date_forms():
    assert n.parse_date("13.12.1950") == dt.date(1950, 12, 13)
    assert n.parse_date("1950-12-13") == dt.date(1950, 12, 13)
    assert n.parse_date("1950-12-13T00:00:00") == dt.date(1950, 12, 13)
    assert n.parse_date("") is None
    with pytest.raises(ValueError):
        n.parse_date("31.02.1950")


@pytest.mark.parametrize("latin, cyrillic", [
    ("Ivanov", "Иванов"), ("ZHUKOVA", "Жукова"), ("Shcherbakov", "Щербаков"), ("Yuriy", "Юрий"),
    ("Olga", "Ольга"), ("Natalya", "Наталья"), ("Elena", "Елена"), ("Mikhaylovich", "Михайлович"),
])
def test_name_key_transliterates_latin_names(latin, cyrillic):
    assert n.name_key(latin) == n.name_key(cyrillic)


def test_name_key_initials_and_lookalikes_kept_apart():
    assert n.name_key("И.") == "и" and n.is_initial(n.name_key("И."))
    assert not n.is_initial(n.name_key("Иван"))
    assert n.name_key("BАСИЛЬЕВ") == n.name_key("Васильев")  # Latin B inside a Cyrillic word is В
    assert n.sex_from_patronymic("И.") is None


def test_parse_birth_date_partial_and_placeholder():
    assert n.parse_birth_date("1948").precision == "year"
    assert n.parse_birth_date("00.00.1948") == n.BirthDate(1948)
    assert n.parse_birth_date("03.1948") == n.BirthDate(1948, 3)
    assert n.parse_birth_date("1948-00-00") == n.BirthDate(1948)
    full = n.parse_birth_date("01.01.1948")
    assert full.precision == "day" and full.placeholder and full.date == dt.date(1948, 1, 1)
    assert not n.parse_birth_date("13.12.1950").placeholder
    with pytest.raises(ValueError):
        n.parse_birth_date("13.1948")


def test_address_key_folds_abbreviations():
    assert n.address_key("г. Тула, улица Ленина, дом 5, кв.3") == n.address_key("г Тула ул. Ленина д.5 квартира 3")
    assert n.address_key("г. Тула, ул. Ленина, д. 5") != n.address_key("г. Тула, ул. Ленина, д. 6")
