"""Prints a numbered tick every second, forever."""
import time
from datetime import datetime

n = 0
while True:
    n += 1
    print(f"{datetime.now():%H:%M:%S} tick {n}")
    time.sleep(1)
