"""ltc-register: ETL, register and reporting for the regional long-term care system (СДУ)."""
