"""The hello example calls no services: it has only Pass, Choice, Wait, Succeed and Fail states.

This module exists so every example folder has the same shape.
"""
