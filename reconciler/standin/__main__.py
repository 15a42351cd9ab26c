import sys

from .runtime import main

sys.exit(main(sys.argv[1:]))
