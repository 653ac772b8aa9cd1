"""The web plumbing the three apps share: what a request body may be, and how answers leave.

``bodies.py`` reads a JSON body (every hostile body is a 4xx), ``problems.py`` holds the one error
type (``Problem``) and the one decorator that answers it as RFC 9457 problem details,
``responses.py`` writes the rest as JSON. Nothing here knows who is calling:
``auth/`` decides that, and answers its 401s and 403s through ``problems``.
"""

from . import bodies, problems
from .problems import Problem, answers_problems
from .responses import Json, json_content, json_response

__all__ = ["Json", "Problem", "answers_problems", "bodies", "json_content", "json_response", "problems"]
