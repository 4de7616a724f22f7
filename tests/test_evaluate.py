import pytest

from etl import register
from etl.devtools.evaluate import evaluate
from tests.test_register import ingest_rows


def test_pairwise_metrics_computed_by_hand(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Семёнова", "Анна", "Ильинична", "Ж", "13.12.1950"],
        ["1", "B", "02.02.2024", "11223344595", "Семенова", "Анна", "Ильинична", "Ж", "13.12.1950"],
        ["1", "C", "03.02.2024", "", "семенова", "анна", "ильинична", "Ж", "13.12.1950"],
        # the same woman by the truth, but nothing in the record says so (maiden name and a wrong birth date)
        ["1", "D", "04.02.2024", "", "Кузнецова", "Анна", "Ильинична", "Ж", "15.06.1962"],
        ["1", "E", "04.02.2024", "", "Петров", "Пётр", "Петрович", "М", "01.01.1940"],
    ])
    register.build()
    truth = tmp_path / "truth.csv"
    truth.write_text("source,entity,natural_id,person_key\n" + "".join(
        f"health,health_referral,{r},{p}\n" for r, p in [("A", "P1"), ("B", "P1"), ("C", "P1"), ("D", "P1"),
                                                         ("E", "P2")]), encoding="utf-8")
    m = evaluate(truth)
    # predicted {A,B,C} {D} {E}; true {A,B,C,D} {E}: TP 3 of 3 predicted pairs, of 6 true pairs
    assert m["precision"] == 1.0
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["persons_recovered_exactly"] == pytest.approx(0.5)  # P2 yes, P1 no
    assert (m["true_persons"], m["register_persons"]) == (2, 3)
