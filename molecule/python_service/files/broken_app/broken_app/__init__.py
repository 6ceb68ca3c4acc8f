"""A deliberately broken release: exits at start, so /health never answers."""
import sys


def main():
    sys.stderr.write("broken-app 9.9.9: refusing to start (deliberately broken release)\n")
    return 3
