from nbwizard.cli import main
import sys
sys.exit(main())
