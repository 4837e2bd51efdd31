"""nbwizard's ipywidgets views: a thin layer over :mod:`nbwizard.engine`."""

from .app import Wizard

__all__ = ["Wizard"]
