"""``python -m kexue_lib._book assets DEST | claims ROOT | check-claims ROOT``."""

from . import main

raise SystemExit(main())
