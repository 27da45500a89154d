"""Runs for a few seconds, then crashes with a traceback.

pyvisor restarts it after restart.delay_seconds; after max_consecutive_failures
crashes in a row it is marked broken.
"""
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3
print(f"starting; will crash in {seconds:g}s")
time.sleep(seconds)


def connect():
    raise ConnectionError("database at 127.0.0.1:5432 refused the connection")


connect()
