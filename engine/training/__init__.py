"""Training assessment (培训考核): courses HR defines (`courses`), assigning them to people and
departments (`assignments`, one `training_assessment` instance per person), taking and grading the
quiz (`attempts`), certificates (`certificates`) and HR's score table (`scores`).

Above `engine.runtime` (it starts and completes instances through it), beside `engine.packages`.
Who may manage courses and see scores: the role `hr` and super admins (`courses.may_manage`).
"""
