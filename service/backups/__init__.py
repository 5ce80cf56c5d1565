"""Backups: the database and the document store in one encrypted file, restored as they were.

`operations` makes and restores a backup and rotates the old ones away; `database` copies the
database out and back (`pg_dump`/`pg_restore`, SQLite's online backup API); `sealed` is the
encrypted file format; `errors` says what went wrong, for the command line to explain.
"""
