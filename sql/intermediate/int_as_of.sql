SELECT max(month + interval '1 month' - interval '1 day')::date AS as_of
FROM register.int_supplement_month
