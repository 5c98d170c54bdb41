"""klikit-harness: contract and chaos tests for the klikit Partner API's menu-publish endpoints."""

from __future__ import annotations

from .core.clock import ManualClock, SystemClock
from .core.defects import DefectSet
from .core.service import ApiRequest, ApiResponse, Service
from .sandbox import SandboxApp, build_service, serve_in_thread

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "DefectSet",
    "ManualClock",
    "SandboxApp",
    "Service",
    "SystemClock",
    "build_service",
    "serve_in_thread",
]
