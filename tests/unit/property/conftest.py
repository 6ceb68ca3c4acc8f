"""Hypothesis profiles of the property tests.

``ci`` (default): fixed seed (derandomize), few examples, the whole suite in
well under a minute - it runs in the unit stage of ``make test``.
``fuzz``: ``make fuzz`` (HYPOTHESIS_PROFILE=fuzz), 5000 examples a test, random.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile('ci', derandomize=True, max_examples=60, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile('fuzz', max_examples=5000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))
