"""What moves a contact through a map: enrollment and its queue, the step runner, journey bookkeeping, effects made once, triggers routing, goals, pause/resume and the resume-at-step mechanism."""
