WITH periods AS (
    SELECT DISTINCT period_kind, period_start, period_end FROM register.int_kpi_measure
), k AS (
    SELECT p.period_kind, p.period_start, p.period_end, d.code, d.name_ru, d.unit, d.source, d.formula_ru,
           d.denominator, coalesce(n.value, 0) AS numerator_value, dn.value AS denominator_value,
           CASE WHEN d.multiplier LIKE 'param:%' THEN par.value ELSE d.multiplier::numeric END AS multiplier,
           CASE WHEN d.multiplier LIKE 'param:%'
                THEN coalesce(par.note, 'параметр ' || substr(d.multiplier, 7) || ' не задан на '
                                        || date_part('year', p.period_end)) END AS parameter_note
    FROM periods p
    CROSS JOIN ref.kpi_definition d
    LEFT JOIN register.int_kpi_measure n ON n.period_kind = p.period_kind AND n.period_end = p.period_end
         AND n.measure = d.numerator
    LEFT JOIN register.int_kpi_measure dn ON dn.period_kind = p.period_kind AND dn.period_end = p.period_end
         AND dn.measure = d.denominator
    LEFT JOIN ref.kpi_parameter par ON d.multiplier = 'param:' || par.name AND par.year = date_part('year', p.period_end)
)
SELECT period_kind, period_start, period_end, code, name_ru, unit, source, numerator_value AS numerator,
       denominator_value AS denominator, multiplier,
       round(numerator_value * multiplier
             / CASE WHEN denominator IS NULL THEN 1 ELSE nullif(denominator_value, 0) END, 2) AS value,
       formula_ru, parameter_note
FROM k
