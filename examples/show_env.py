"""Prints its arguments, working directory and GREETING, then idles."""
import os
import sys
import time

print("args:", sys.argv[1:])
print("cwd:", os.getcwd())
print("GREETING:", os.environ.get("GREETING", "(not set)"))
print("python:", sys.executable)
while True:
    time.sleep(3600)
