package main

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// root is the vendor's offline root key: it endorses signing keys, and
// revokes them, so that apps that pin it need no update when keys change.
func (e *env) root(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: root generate, jwks or revoke-key")
	}
	switch args[0] {
	case "generate":
		fs := e.newFlags("root generate", "root generate --out ROOTDIR [--bits 3072]")
		out := fs.String("out", "", "the root's directory, kept offline; created 0700 (required)")
		bits := fs.Int("bits", keys.DefaultBits, "RSA key size: 3072 or 4096")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := required(fs, "out"); err != nil {
			return err
		}
		if *bits != 3072 && *bits != 4096 {
			return usagef("--bits %d: a root is 3072 or 4096 bits", *bits)
		}
		if ks, err := keys.LoadDir(*out); err == nil && ks.Len() > 0 {
			return usagef("%s holds a root key already; a second one would leave apps pinned to the first", *out)
		}
		k, err := keys.GenerateInto(*out, *bits)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "generated a %d-bit root key in %s\nkid: %s\nkeep %s offline; apps pin: licensectl root jwks --root %s\n", *bits, *out, k.ID, *out, *out)
		return nil
	case "jwks":
		return e.printJWKS("root jwks", "root", "the root's directory (required)", args[1:])
	case "revoke-key":
		fs := e.newFlags("root revoke-key", "root revoke-key --root ROOTDIR --kid KID --out FILE")
		dir := fs.String("root", "", "the root's directory (required)")
		kid := fs.String("kid", "", "the signing key to revoke (required)")
		out := fs.String("out", "", `where to write the statement, "-" for stdout (required)`)
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := required(fs, "root", "kid", "out"); err != nil {
			return err
		}
		rk, err := rootKey(*dir)
		if err != nil {
			return err
		}
		stmt, err := license.SignKeyRevocation(rk.Signer(), rk.ID, *kid, time.Now())
		if err != nil {
			return err
		}
		if err := e.writeOutput(*out, []byte(stmt+"\n")); err != nil {
			return err
		}
		if *out != "-" {
			fmt.Fprintf(e.stdout, "wrote %s: the root revokes key %s; give it to licensed (PUT /api/v1/keys/%s/revocation or the keys page)\n", *out, *kid, *kid)
		}
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(e.stderr, "Usage:\n  licensectl root generate --out ROOTDIR [--bits 3072]\n  licensectl root jwks --root ROOTDIR\n  licensectl root revoke-key --root ROOTDIR --kid KID --out FILE\n")
		return nil
	default:
		return usagef("unknown subcommand %q: want generate, jwks or revoke-key", args[0])
	}
}

// rootKey loads the root's signing key.
func rootKey(dir string) (*keys.Key, error) {
	ks, err := keys.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	k, err := ks.Active()
	if err != nil {
		return nil, fmt.Errorf("%s holds no root private key: make one with licensectl root generate --out %s", dir, dir)
	}
	return k, nil
}

// endorse signs, with the root, an endorsement of the signing key in
// keyFile: its PEM (private or public), its public JWK, or the key as GET
// /api/v1/keys/{kid} answers, so that its private half never has to travel
// to the root's machine.
func (e *env) endorse(args []string) error {
	fs := e.newFlags("keys endorse", "keys endorse --root ROOTDIR --key FILE [--not-after RFC3339] --out FILE")
	dir := fs.String("root", "", "the root's directory (required)")
	keyFile := fs.String("key", "", "the signing key: PEM, public JWK, or GET /api/v1/keys/{kid}'s answer (required)")
	notAfter := fs.String("not-after", "", "RFC 3339: files the key signs after this are not endorsed (default: no end)")
	out := fs.String("out", "", `where to write the endorsement, "-" for stdout (required)`)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "root", "key", "out"); err != nil {
		return err
	}
	until, err := parseTime("not-after", *notAfter)
	if err != nil {
		return err
	}
	data, err := readInput(*keyFile, 1<<20)
	if err != nil {
		return err
	}
	pub, err := signingKeyOf(data)
	if err != nil {
		return usagef("--key %s: %v", *keyFile, err)
	}
	rk, err := rootKey(*dir)
	if err != nil {
		return err
	}
	endorsement, err := license.SignEndorsement(rk.Signer(), rk.ID, pub, time.Now(), until)
	if err != nil {
		return err
	}
	if err := e.writeOutput(*out, []byte(endorsement+"\n")); err != nil {
		return err
	}
	if *out != "-" {
		_, kid := license.JWKOf(pub)
		fmt.Fprintf(e.stdout, "wrote %s: the root endorses key %s; give it to licensed (PUT /api/v1/keys/%s/endorsement, the keys page, or %s%s beside the key)\n", *out, kid, kid, kid, keys.EndorsementSuffix)
	}
	return nil
}

// signingKeyOf reads an RSA public key from PEM or JSON.
func signingKeyOf(data []byte) (*rsa.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type == "PRIVATE KEY" {
			k, err := keys.ParsePrivateKey(data)
			if err != nil {
				return nil, err
			}
			return k.Public, nil
		}
		k, err := keys.ParsePublicKey(data)
		if err != nil {
			return nil, err
		}
		return k.Public, nil
	}
	var doc struct {
		PublicJWK json.RawMessage `json:"public_jwk"`
	}
	if err := json.Unmarshal(data, &doc); err == nil && len(doc.PublicJWK) > 0 {
		data = doc.PublicJWK
	}
	set, err := keys.ParseJWKS([]byte(`{"keys":[` + string(data) + `]}`))
	if err != nil {
		return nil, fmt.Errorf("neither a PEM key nor an RSA public JWK: %v", err)
	}
	return set.Keys()[0].Public, nil
}

// printJWKS prints the public key set of the key directory the flag names
// (keys jwks --keys DIR, root jwks --root ROOTDIR).
func (e *env) printJWKS(name, flagName, what string, args []string) error {
	fs := e.newFlags(name, name+" --"+flagName+" DIR")
	dir := fs.String(flagName, "", what)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, flagName); err != nil {
		return err
	}
	ks, err := keys.LoadDir(*dir)
	if err != nil {
		return err
	}
	js, err := ks.JWKS()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(js)
	return err
}
