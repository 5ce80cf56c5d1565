"""Referral protocols: load, check, compile and drive them. Pure Python: no Flask, SQLAlchemy or Celery."""
