"""`ui.brand`: the product name, logo and accent colour on every page of the built-in UI.

The pages allow no inline style and no foreign images (their Content-Security-Policy), so the brand
goes where that policy already looks: the accent colour into the stylesheet the pages load, and the
logo's origin, and only that origin, into `img-src`. Text on the accent colour is black or white,
whichever contrasts more (WCAG's relative luminance), so a light brand colour keeps buttons readable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_NAME = "Warden"
DEFAULT_ACCENT = "#2f5bd3"
# WCAG 2.1 AA for body text: links are drawn in the accent colour on white.
AA_TEXT = 4.5


@dataclass(frozen=True)
class Brand:
    name: str = DEFAULT_NAME
    logo_url: str = ""
    accent_color: str = DEFAULT_ACCENT

    @classmethod
    def from_settings(cls, settings: Any) -> Brand:
        brand = cls(
            name=settings.get("ui.brand.name") or DEFAULT_NAME,
            logo_url=settings.get("ui.brand.logo_url") or "",
            accent_color=_six_digits(settings.get("ui.brand.accent_color") or DEFAULT_ACCENT),
        )
        if (ratio := contrast(brand.accent_color, "#ffffff")) < AA_TEXT:
            log.warning(
                "config: ui.brand.accent_color contrasts %.1f:1 with the white page, under WCAG AA's 4.5:1 for links",
                ratio,
            )
        return brand

    @property
    def image_source(self) -> str:
        """What `img-src` must add for the logo: its origin when it is on another one, else nothing."""
        parts = urlsplit(self.logo_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""

    def stylesheet(self) -> bytes:
        """The custom properties the stylesheet reads, appended to it (so they win)."""
        ink = (
            "#000000" if contrast(self.accent_color, "#000000") > contrast(self.accent_color, "#ffffff") else "#ffffff"
        )
        return f"\n:root {{ --accent: {self.accent_color}; --on-accent: {ink}; }}\n".encode()


def _six_digits(color: str) -> str:
    """`#abc` as `#aabbcc` (the schema allows both)."""
    digits = color.lstrip("#")
    return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits).lower()


def contrast(first: str, second: str) -> float:
    """WCAG 2.1's contrast ratio of two `#rrggbb` colours, from 1 to 21."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
