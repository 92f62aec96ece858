// Warden's WebAuthn script, served at /.well-known/ory/webauthn.js. It offers the same globals as
// Kratos's script (the names its UI nodes' onclickTrigger / onloadTrigger carry, prefixed with "__"),
// so Kratos's reference UI and Ory Elements work unchanged: each reads the options from the flow's
// hidden node, asks the browser, writes the credential as JSON into the result node and submits the form.
;(function () {
  if (typeof window === "undefined" || window.__oryWebAuthnInitialized) {
    return
  }

  function decode(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/")
    while (b64.length % 4) b64 += "="
    return Uint8Array.from(atob(b64), function (c) {
      return c.charCodeAt(0)
    })
  }

  function encode(value) {
    if (!value) return undefined
    return btoa(String.fromCharCode.apply(null, new Uint8Array(value)))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "")
  }

  function node(name) {
    return document.querySelector('*[name="' + name + '"]')
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: decode(d.id) })
    })
  }

  function requestOptions(opt) {
    var pk = Object.assign({}, opt.publicKey)
    pk.challenge = decode(pk.challenge)
    pk.allowCredentials = descriptors(pk.allowCredentials)
    return { publicKey: pk }
  }

  function creationOptions(opt) {
    var pk = Object.assign({}, opt.publicKey)
    pk.challenge = decode(pk.challenge)
    pk.user = Object.assign({}, pk.user, { id: decode(pk.user.id) })
    pk.excludeCredentials = descriptors(pk.excludeCredentials)
    return { publicKey: pk }
  }

  function assertionJSON(c) {
    return JSON.stringify({
      id: c.id,
      rawId: encode(c.rawId),
      type: c.type,
      response: {
        authenticatorData: encode(c.response.authenticatorData),
        clientDataJSON: encode(c.response.clientDataJSON),
        signature: encode(c.response.signature),
        userHandle: encode(c.response.userHandle),
      },
    })
  }

  function attestationJSON(c) {
    return JSON.stringify({
      id: c.id,
      rawId: encode(c.rawId),
      type: c.type,
      response: {
        attestationObject: encode(c.response.attestationObject),
        clientDataJSON: encode(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : [],
      },
    })
  }

  function submit(resultName, value) {
    var result = node(resultName)
    result.value = value
    result.closest("form").submit() // as Kratos's script: no method field, the result names the method
  }

  function triggerOptions(name) {
    var trigger = node(name)
    return JSON.parse(trigger.value)
  }

  function failed(err) {
    if (err && err.name === "NotAllowedError") return // the user cancelled
    console.error(err)
    alert(err)
  }

  // Kratos's security-key globals: options given by the node's onclick.
  function __oryWebAuthnLogin(opt, resultQuerySelector, triggerQuerySelector) {
    navigator.credentials
      .get(requestOptions(opt || triggerOptions("webauthn_login_trigger")))
      .then(function (c) {
        var result = document.querySelector(resultQuerySelector || '*[name="webauthn_login"]')
        result.value = assertionJSON(c)
        document.querySelector(triggerQuerySelector || '*[name="webauthn_login_trigger"]').closest("form").submit()
      })
      .catch(failed)
  }

  function __oryWebAuthnRegistration(opt, resultQuerySelector, triggerQuerySelector) {
    navigator.credentials
      .create(creationOptions(opt || triggerOptions("webauthn_register_trigger")))
      .then(function (c) {
        var result = document.querySelector(resultQuerySelector || '*[name="webauthn_register"]')
        result.value = attestationJSON(c)
        document.querySelector(triggerQuerySelector || '*[name="webauthn_register_trigger"]').closest("form").submit()
      })
      .catch(failed)
  }

  // Passkeys: options from the flow's hidden nodes.
  // The autofill's request stays pending until a passkey is picked from the identifier's suggestions;
  // a click on "Sign in with passkey" ends it first, as a browser serves one request at a time.
  var autofill = null

  function endAutofill() {
    if (autofill) autofill.abort()
    autofill = null
  }

  function __oryPasskeyLogin() {
    endAutofill()
    var opt = JSON.parse(node("passkey_challenge").value)
    navigator.credentials
      .get(requestOptions(opt))
      .then(function (c) {
        submit("passkey_login", assertionJSON(c))
      })
      .catch(failed)
  }

  function __oryPasskeyLoginAutocompleteInit() {
    var challenge = node("passkey_challenge")
    if (!challenge || !window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) return
      endAutofill()
      var controller = (autofill = new AbortController())
      var opt = requestOptions(JSON.parse(challenge.value))
      opt.mediation = "conditional"
      opt.signal = controller.signal
      navigator.credentials
        .get(opt)
        .then(function (c) {
          submit("passkey_login", assertionJSON(c))
        })
        .catch(function (err) {
          if (!controller.signal.aborted) failed(err) // ended by a click: not an error
        })
    })
  }

  function register(resultName) {
    var data = JSON.parse(node("passkey_create_data").value)
    var opt = creationOptions(data.credentialOptions)
    // The name typed in this form (a page may show the traits in more than one form).
    var form = node(resultName).closest("form")
    var nameField = data.displayNameFieldName && form.querySelector('*[name="' + data.displayNameFieldName + '"]')
    if (nameField && nameField.value) {
      opt.publicKey.user.name = nameField.value
      opt.publicKey.user.displayName = nameField.value
    }
    navigator.credentials
      .create(opt)
      .then(function (c) {
        submit(resultName, attestationJSON(c))
      })
      .catch(failed)
  }

  function __oryPasskeyRegistration() {
    register("passkey_register")
  }

  function __oryPasskeySettingsRegistration() {
    register("passkey_settings_register")
  }

  // The names Kratos's nodes call (`onclick`: "window.oryWebAuthnLogin(...)", Ory Elements v1),
  // and the older ones with underscores (Ory Elements v0), as Kratos's script defines both.
  window.oryWebAuthnLogin = __oryWebAuthnLogin
  window.oryWebAuthnRegistration = __oryWebAuthnRegistration
  window.oryPasskeyLogin = __oryPasskeyLogin
  window.oryPasskeyLoginAutocompleteInit = __oryPasskeyLoginAutocompleteInit
  window.oryPasskeyRegistration = __oryPasskeyRegistration
  window.oryPasskeySettingsRegistration = __oryPasskeySettingsRegistration
  window.__oryWebAuthnLogin = __oryWebAuthnLogin
  window.__oryWebAuthnRegistration = __oryWebAuthnRegistration
  window.__oryPasskeyLogin = __oryPasskeyLogin
  window.__oryPasskeyLoginAutocompleteInit = __oryPasskeyLoginAutocompleteInit
  window.__oryPasskeyRegistration = __oryPasskeyRegistration
  window.__oryPasskeySettingsRegistration = __oryPasskeySettingsRegistration
  window.__oryWebAuthnInitialized = true

  // Pages without inline scripts (Warden's built-in UI, under a strict CSP) mark trigger buttons
  // with data-ory-trigger, and the nodes whose onloadTrigger runs when the page is ready with
  // data-ory-onload; this calls the function either names.
  function call(name) {
    var fn = window["__" + name]
    if (typeof fn === "function") fn()
  }

  function wirePage() {
    document.querySelectorAll("button[data-ory-trigger]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault()
        call(button.getAttribute("data-ory-trigger"))
      })
    })
    document.querySelectorAll("[data-ory-onload]").forEach(function (element) {
      call(element.getAttribute("data-ory-onload"))
    })
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wirePage)
  } else {
    wirePage()
  }
})()
