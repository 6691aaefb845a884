"""``python -m livecommerce`` is the same CLI as the ``livecommerce`` script."""

from livecommerce.cli import main

raise SystemExit(main())
