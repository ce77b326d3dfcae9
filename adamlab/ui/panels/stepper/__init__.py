"""The Adam stepper: one parameter, Adam's update one line at a time with the numbers substituted
(``panel.StepperPanel``)."""
