import sys

from digitclf.cli import main

sys.exit(main())
