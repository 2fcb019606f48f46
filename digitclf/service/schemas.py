"""The JSON shapes of the HTTP API (see digitclf.service), as pydantic models for OpenAPI."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorResponse(BaseModel):
    error: str = Field(description="machine-readable kind, e.g. no_digit, bad_image, too_large")
    detail: str = Field(description="what is wrong, in a sentence")


class DigitReading(BaseModel):
    """One digit as the Predictor reads it (DigitResult.to_dict(), further fields included)."""

    model_config = ConfigDict(extra="allow")
    digit: int = Field(ge=0, le=9)
    confidence: float = Field(ge=0, le=1)
    probabilities: list[float] = Field(min_length=10, max_length=10, description="for digits 0..9")
    is_digit: bool = Field(description="false for letters, scribbles, shapes and smudges")


class DigitResponse(DigitReading):
    model: str = Field(description="the model that read the image")


class BatchItem(BaseModel):
    filename: str | None = None
    result: DigitResponse | None = Field(default=None, description="set when the image was read")
    error: ErrorResponse | None = Field(default=None, description="set when it was not")


class BatchResponse(BaseModel):
    results: list[BatchItem] = Field(description="one per uploaded file, in upload order")


class NumberResponse(BaseModel):
    """A number of several digits as Predictor.read_number reads it."""

    model_config = ConfigDict(extra="allow")
    model: str
    text: str = Field(description="the digits read, left to right")
    digits: list[DigitReading] = Field(description="the result for each digit, left to right")
    boxes: list[list[int]] = Field(description="each digit's [x, y, width, height] in the image")
    confidence: float = Field(description="the probability that the whole reading is exactly right")


class ModelInfo(BaseModel):
    name: str
    architecture: str | None = None
    test_accuracy: float | None = None
    created_at: str | None = None


class BrokenModel(BaseModel):
    name: str
    reason: str = Field(description="why it cannot be used (a missing or damaged file, another input shape)")


class ModelsResponse(BaseModel):
    default: str = Field(description="the model used when a request names none")
    models: list[ModelInfo] = Field(description="the usable models")
    broken: list[BrokenModel] = Field(default_factory=list, description="model folders that cannot be used")


class HealthResponse(BaseModel):
    status: str
    model: str
