import sys

from aesthetics.cli import main

sys.exit(main())
