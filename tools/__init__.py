"""Development tools of the project. Not part of the ``meditron`` package: they never ship in the wheel."""
