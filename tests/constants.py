"""Values shared by the test set-up and the tests."""

# Recognisably fake; the secrets tests assert it never shows up in any output.
FAKE_KEY = "sk-or-v1-fake0123456789abcdef0123456789abcdef0123456789abcdef01234567"
