from sqlgateway.cli import main

raise SystemExit(main())
