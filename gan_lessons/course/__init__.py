"""gan_lessons.course: the instructors' and CI's tooling, not part of what a learner uses.

`notebooks` lists, executes and normalizes the lesson notebooks and writes the student copies,
the offline HTML site and the slides; `cli` is the `gan-lessons` command built on it. Neither is
imported by `import gan_lessons`, nor reachable as `gl.notebooks` / `gl.cli`: import them as
`from gan_lessons.course import notebooks`. Executing, converting and checking notebooks needs the
`course` extra (`pip install "gan-lessons[course]"`: papermill, nbformat, nbconvert, nbval);
`gan-lessons data` and `gan-lessons --help` work with the core dependencies alone.
"""
