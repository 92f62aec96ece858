"""Kratos's UI message catalogue and error ids, one small function per message.

    from shared.text import invalid_credentials, password_too_short, SESSION_INACTIVE
    flow.ui.messages.append(invalid_credentials())          # {"id": 4000006, "text": …, "type": "error"}

Ids, texts, types and context keys are Kratos's (`text/message_*.go`); clients match on the id and
may translate the text using the context. Modules follow Kratos's files: `login` (1010xxx, 4010xxx),
`registration`, `settings`, `recovery`, `verification`, `node` (labels, 1070xxx), `validation`
(the JSON-schema family), `credentials` (password and account errors), `system`, `error_ids`
(`error.id` strings of JSON errors) and `schema_errors` (`from_schema_error`).
"""

from shared.text.message import ERROR, INFO, SUCCESS, Message
from shared.text.error_ids import (
    BROWSER_LOCATION_CHANGE_REQUIRED, IDENTITY_DISABLED, SECURITY_CSRF_VIOLATION,
    SECURITY_IDENTITY_MISMATCH, SELF_SERVICE_FLOW_DISABLED, SELF_SERVICE_FLOW_EXPIRED,
    SELF_SERVICE_FLOW_REPLACED, SELF_SERVICE_FLOW_RETURN_TO_FORBIDDEN, SESSION_AAL1_REQUIRED,
    SESSION_AAL2_REQUIRED, SESSION_AAL_ALREADY_FULFILLED, SESSION_ALREADY_AVAILABLE, SESSION_INACTIVE,
    SESSION_REFRESH_REQUIRED, SESSION_VERIFIED_ADDRESS_REQUIRED,
)
from shared.text.login import (
    address_unknown, confirm_with, continue_with_hardware_key, identity_disabled, label_lookup_code,
    label_totp_code, linked_credentials_mismatch, login_already_completed, login_and_link_account,
    login_code_invalid, login_code_sent, login_continue, login_flow_expired, login_mfa,
    login_refresh_requested, login_verify, no_login_strategy, no_recovery_strategy,
    no_registration_strategy, no_settings_strategy, no_verification_strategy, request_code_to_continue,
    send_code_to, send_sign_in_code, sign_in, sign_in_and_link, sign_in_with, sign_in_with_hardware_key,
    sign_in_with_passkey, sign_in_with_password, use_authenticator, use_backup_recovery_code,
    webauthn_passwordless_prepare,
)
from shared.text.registration import (
    choose_credentials, registration_already_completed, registration_back, registration_code_invalid,
    registration_code_sent, registration_continue, registration_flow_expired, send_sign_up_code,
    sign_up, sign_up_with, sign_up_with_passkey, sign_up_with_security_key,
)
from shared.text.settings import (
    add_passkey, add_security_key, confirm_lookup_codes, disable_lookup_codes, label_lookup_codes,
    label_security_key_name, label_totp_secret, link_provider, lookup_code, lookup_code_list,
    lookup_code_used, one_address_at_a_time, regenerate_lookup_codes, remove_passkey,
    remove_security_key, reveal_lookup_codes, settings_flow_expired, settings_saved, totp_qr_code,
    totp_secret, unlink_provider, unlink_totp,
)
from shared.text.recovery import (
    recovery_already_completed, recovery_ask_full_address, recovery_back, recovery_choose_address,
    recovery_code_invalid, recovery_code_sent, recovery_code_sent_to, recovery_failed,
    recovery_flow_expired, recovery_link_sent, recovery_successful, recovery_token_invalid,
)
from shared.text.verification import (
    email_verified, phone_verified, verification_already_completed, verification_code_invalid,
    verification_code_sent, verification_failed, verification_flow_expired, verification_link_sent,
    verification_sms_sent, verification_token_invalid,
)
from shared.text.node import (
    generated_label, label_captcha, label_continue, label_email, label_email_or_phone, label_id,
    label_login_and_link, label_login_code, label_password, label_phone_number, label_recovery_address,
    label_recovery_code, label_registration_code, label_resend_code, label_save, label_submit,
    label_verification_code, label_verify_code,
)
from shared.text.validation import (
    above_maximum, below_minimum, const_failed, const_mismatch, items_not_unique, not_above_minimum,
    not_below_maximum, not_multiple_of, pattern_mismatch, property_missing, too_few_items, too_long,
    too_many_items, too_short, validation_failed, wrong_type,
)
from shared.text.credentials import (
    account_not_found, address_not_verified, captcha_failed, identifier_exists,
    identifier_exists_on_oidc_link, identifier_exists_with_hints, identifier_missing,
    invalid_credentials, invalid_email, invalid_phone, lookup_code_already_used, lookup_code_invalid,
    no_code_user, no_lookup_codes, no_totp_device, no_webauthn_device, no_webauthn_user,
    password_breached, password_policy_violation, password_same_as_old, password_too_long,
    password_too_short, password_too_similar, totp_code_invalid, traits_mismatch,
)
from shared.text.system import (
    no_authentication_methods, system_error,
)
from shared.text.schema_errors import (
    from_schema_error,
)
