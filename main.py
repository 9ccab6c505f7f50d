"""Start the seg-desktop GUI: `python main.py [FOLDER]`."""

import sys

from seg_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main(["gui", *sys.argv[1:]]))
