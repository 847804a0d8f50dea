"""The synthetic marketplace's vocabulary files load into the shapes the generator indexes."""

import pytest
from pydantic import ValidationError

from synthetic.vocabulary import CATEGORIES, CLOSERS, NEGATIVE_TEMPLATES, POSITIVE_TEMPLATES, Category, Templates

COOKWARE = CATEGORIES[0].model_dump()


def test_the_packaged_files_load_in_order_with_labels_defaulting_to_the_keyword():
    assert len(CATEGORIES) == 16 and CATEGORIES[0].path == ("Home & Kitchen", "Kitchen", "Cookware")
    heats, coating = CATEGORIES[0].aspects[:2]
    assert (heats.keyword, heats.label) == ("heats", "heat distribution")
    assert coating.label == coating.keyword == "coating"
    assert len(POSITIVE_TEMPLATES) == len(NEGATIVE_TEMPLATES) and sorted(CLOSERS) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"aspects": COOKWARE["aspects"][:1]}, "aspects"),  # a 3-star review needs two aspects
        ({"features": ["a tri-ply base"]}, "features"),  # a description names two
        ({"price_range": [50.0, 10.0]}, "price_range"),
    ],
)
def test_a_category_the_generator_cannot_use_is_rejected_by_name(change, named):
    with pytest.raises(ValidationError, match=named):
        Category(**{**COOKWARE, **change})


def test_templates_need_one_draw_to_pick_either_kind_and_every_rating():
    ratings = {r: ["x"] for r in range(1, 6)}
    with pytest.raises(ValidationError, match="positive has 2 templates and negative 1"):
        Templates(positive=["{C}.", "{c}!"], negative=["{C}."], openers=ratings, closers=ratings, summaries=ratings)
    with pytest.raises(ValidationError, match="closers needs a non-empty list for each rating 1-5"):
        Templates(positive=["a"], negative=["b"], openers=ratings, closers={5: ["x"]}, summaries=ratings)
