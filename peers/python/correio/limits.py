"""Hard decoder limits (ENCODING.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What a decoder accepts. A deployment may lower these, never raise them past its peers'."""

    max_bytes: int = 1024 * 1024
    max_string_bytes: int = 65_536
    max_bin_bytes: int = 1024 * 1024
    max_array_length: int = 10_000
    max_map_size: int = 1_000
    max_depth: int = 32

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = Limits()
