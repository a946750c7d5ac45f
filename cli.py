"""Run the cnn command line from a checkout: ``python cli.py [COMMAND] [OPTIONS]``."""

from cnn.cli.main import entry_point

if __name__ == "__main__":
    entry_point()
