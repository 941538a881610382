"""Connecting to Chroma, and Chroma's errors in our terms: the half of the store's boundary
that ``store.Store`` calls before and around each request. Chroma is imported here only when a
client is made, so a process that never opens the store never imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

from assistant.config import Settings
from assistant.errors import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from chromadb.api import ClientAPI


def client_from_settings(settings: Settings) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if not url.hostname:
                raise StoreError(f"ASSISTANT_CHROMA_URL={settings.chroma_url!r} has no host")
            return chromadb.HttpClient(
                host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https", settings=chroma_settings)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)
    except StoreError:
        raise
    except Exception as e:  # chromadb raises ValueError/ConnectionError/its own types
        where = settings.chroma_url or str(settings.index_dir)
        if settings.chroma_url:
            raise StoreUnavailable(f"cannot reach the Chroma server at {where}: {e}") from e
        raise StoreError(f"cannot open the Chroma store at {where}: {e}") from e


def translate(e: Exception, label: str) -> StoreError:
    text = str(e) or type(e).__name__
    lowered = text.lower()
    if any(s in lowered for s in ("connect", "refused", "timed out", "timeout", "unreachable")):
        return StoreUnavailable(f"cannot reach the Chroma store {label}: {text}")
    return StoreError(f"Chroma store {label}: {text}")
