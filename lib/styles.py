"""Built-in prompt templates ("styles"); ``{prompt}`` is replaced by the user's prompt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """A named prompt template with an optional negative prompt."""

    id: str
    label: str
    template: str
    negative: str = ""

    def apply(self, prompt: str) -> str:
        """The prompt as sent to the provider."""
        return self.template.replace("{prompt}", prompt.strip())


BUILTIN: dict[str, Style] = {
    s.id: s
    for s in (
        Style("none", "None", "{prompt}"),
        Style(
            "realistic",
            "Realistic",
            "{prompt}, realistic, natural lighting, highly detailed, true-to-life colours",
            "cartoon, illustration, distorted",
        ),
        Style(
            "photographic",
            "Photographic",
            "professional photograph of {prompt}, 35mm lens, shallow depth of field, sharp focus",
            "drawing, painting, illustration, blurry",
        ),
        Style(
            "artistic",
            "Artistic",
            "{prompt}, fine-art painting, expressive brushwork, rich colour palette",
            "photo, low quality",
        ),
        Style(
            "cartoon",
            "Cartoon",
            "{prompt}, cartoon style, bold clean outlines, flat vibrant colours",
            "photorealistic, gritty",
        ),
        Style(
            "abstract",
            "Abstract",
            "abstract composition inspired by {prompt}, geometric shapes, bold colour fields",
            "photo, realistic",
        ),
    )
}


def get(style_id: str | None) -> Style:
    """A style by id; unknown or empty ids mean no template."""
    return BUILTIN.get(style_id or "none", BUILTIN["none"])
