package components

// ScriptText is script for the external tests: an embedded script as it is
// sent to a machine, helper files inlined.
var ScriptText = script
