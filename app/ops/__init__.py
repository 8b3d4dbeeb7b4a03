"""Operations: health, readiness, request ids."""
