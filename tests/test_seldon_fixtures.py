from tests.seldon_fixtures import CRD, EXAMPLES


def test_seldon_fixtures_are_present():
    """Parametrized compatibility tests would silently shrink to nothing without them."""
    assert len(EXAMPLES) >= 10 and CRD.exists()
