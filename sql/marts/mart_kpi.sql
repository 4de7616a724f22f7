WITH periods AS (
    SELECT DISTINCT period_kind, period_start, period_end, oktmo FROM register.int_kpi_measure
), k AS (
    SELECT p.period_kind, p.period_start, p.period_end, p.oktmo, d.code, d.name_ru, d.unit, d.source, d.formula_ru,
           d.denominator, coalesce(n.value, 0) AS numerator_value, dn.value AS denominator_value,
           CASE WHEN d.multiplier LIKE 'param:%' THEN par.value ELSE d.multiplier::numeric END AS multiplier,
           CASE WHEN d.multiplier LIKE 'param:%'
                THEN coalesce(par.note, 'параметр ' || substr(d.multiplier, 7) || ' не задан на '
                                        || date_part('year', p.period_end)) END AS parameter_note
    FROM periods p
    CROSS JOIN ref.kpi_definition d
    LEFT JOIN register.int_kpi_measure n ON n.period_kind = p.period_kind AND n.period_end = p.period_end
         AND n.oktmo IS NOT DISTINCT FROM p.oktmo AND n.measure = d.numerator
    LEFT JOIN register.int_kpi_measure dn ON dn.period_kind = p.period_kind AND dn.period_end = p.period_end
         AND dn.oktmo IS NOT DISTINCT FROM p.oktmo AND dn.measure = d.denominator
    LEFT JOIN ref.kpi_parameter par ON d.multiplier = 'param:' || par.name AND par.year = date_part('year', p.period_end)
)
SELECT k.period_kind, k.period_start, k.period_end, k.oktmo,
       CASE WHEN k.oktmo IS NULL THEN 'регион' ELSE coalesce(m.name, 'не указан') END AS municipality,
       k.code, k.name_ru, k.unit, k.source, k.numerator_value AS numerator,
       k.denominator_value AS denominator, k.multiplier,
       round(k.numerator_value * k.multiplier
             / CASE WHEN k.denominator IS NULL THEN 1 ELSE nullif(k.denominator_value, 0) END, 2) AS value,
       k.formula_ru, k.parameter_note
FROM k
LEFT JOIN ref.municipality m ON m.oktmo = k.oktmo
