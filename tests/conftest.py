"""Shared test configuration: the suite runs under whichever backend FUNCTRACE_BACKEND names."""

import os

import numpy as np
import pytest

import functrace as ft


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)


def pytest_report_header(config):
    return f"functrace backend: {ft.get_backend()} (FUNCTRACE_BACKEND={os.environ.get('FUNCTRACE_BACKEND', '')!r})"
