"""`evokd bench`: running the experiments and their records (run.py), the tables and plots of the records
(tables.py), the methods they compare (methods.py)."""
