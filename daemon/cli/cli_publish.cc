// `hashmesh submit | notice | endorse | dispute | seen | acted | retract | reload`: records
// published into this node's own feed through the admin socket.
#include <cctype>
#include <cstdio>

#include "common/json.h"
#include "daemon/cli/cli_commands.h"
#include "daemon/cli/cli_format.h"

namespace hashmesh::cli {

namespace {

// Prints the PublishResponse (or the daemon's JSON with --json).
int PrintPublished(const Context& ctx, const Result<std::string>& body) {
  if (!body.ok()) return Fail(body.status());
  if (ctx.json) {
    PrintJsonDocument(*body);
    return kExitOk;
  }
  api::PublishResponse published;
  Status s = ParseAnswer(*body, &published);
  if (!s.ok()) return Fail(s);
  std::string text = FormatPublish(published);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

Status RequireText(const std::string& value, std::string_view flag) {
  bool blank = true;
  for (unsigned char c : value) blank = blank && std::isspace(c);
  if (blank) return InvalidArgument(std::string(flag) + " must not be empty");
  return Status::Ok();
}

Status ValidateLabel(const std::string& label) {
  if (label.empty()) return InvalidArgument("--label must not be empty");
  if (label.size() > 128) return InvalidArgument("label longer than 128 characters: " + label);
  for (unsigned char c : label) {
    if (std::isspace(c) || std::iscntrl(c)) {
      return InvalidArgument("label '" + label +
                             "' contains white space; use a taxonomy string such as "
                             "terrorism/glorification");
    }
  }
  return Status::Ok();
}

}  // namespace

int RunSubmit(const Context& ctx, const SubmitArgs& args) {
  auto signal = ValidateSignal(args.type, args.value, /*match_only=*/false);
  if (!signal.ok()) return Fail(signal.status());
  if (args.labels.empty()) return Fail(InvalidArgument("give at least one --label"));
  api::SignalRequest request;
  request.set_type(signal->type);
  request.set_value(signal->value);
  for (const auto& label : args.labels) {
    Status s = ValidateLabel(label);
    if (!s.ok()) return Fail(s);
    request.add_labels(label);
  }
  request.set_note(args.note);
  request.set_content_type(args.content_type);
  if (args.quality) {
    if (*args.quality > 100) return Fail(InvalidArgument("--quality must be 0 to 100"));
    request.set_quality(*args.quality);
  }
  if (!args.expires.empty()) {
    Status s = ParseExpiry(args.expires, request.mutable_expires_at());
    if (!s.ok()) return Fail(s);
  }
  return PrintPublished(ctx, PostAdmin(ctx, "/v1/signals", ToJson(request)));
}

int RunNotice(const Context& ctx, const NoticeArgs& args) {
  api::NoticeRequest request;
  if (args.targets.empty() && args.signals.empty()) {
    return Fail(InvalidArgument("a notice needs at least one --target ID or --signal TYPE:VALUE"));
  }
  for (const auto& target : args.targets) {
    auto id = ValidateRecordId(target);
    if (!id.ok()) return Fail(id.status());
    request.add_targets(*id);
  }
  for (const auto& text : args.signals) {
    size_t colon = text.find(':');
    if (colon == std::string::npos) {
      return Fail(
          InvalidArgument("--signal must be TYPE:VALUE, e.g. md5:0123..., got '" + text + "'"));
    }
    auto signal = ValidateSignal(text.substr(0, colon), text.substr(colon + 1), false);
    if (!signal.ok()) return Fail(signal.status());
    auto* ref = request.add_signals();
    ref->set_type(signal->type);
    ref->set_value(signal->value);
  }
  for (auto [value, flag] :
       {std::pair{&args.category, "--category"}, std::pair{&args.legal_basis, "--legal-basis"},
        std::pair{&args.issuing_body, "--issuing-body"}}) {
    Status s = RequireText(*value, flag);
    if (!s.ok()) return Fail(s);
  }
  std::string jurisdiction = args.jurisdiction;
  for (char& c : jurisdiction) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (jurisdiction.size() != 2 || !std::isalpha(static_cast<unsigned char>(jurisdiction[0])) ||
      !std::isalpha(static_cast<unsigned char>(jurisdiction[1]))) {
    return Fail(
        InvalidArgument("--jurisdiction must be an ISO 3166-1 alpha-2 code (e.g. FR) or "
                        "EU, got '" +
                        args.jurisdiction + "'"));
  }
  if (args.action != "remove" && args.action != "geo-block" && args.action != "review") {
    return Fail(
        InvalidArgument("--action must be remove, geo-block or review, got '" + args.action + "'"));
  }
  request.set_category(args.category);
  request.set_jurisdiction(jurisdiction);
  request.set_legal_basis(args.legal_basis);
  request.set_issuing_body(args.issuing_body);
  request.set_reference(args.reference);
  request.set_action(args.action);
  if (!args.expires.empty()) {
    Status s = ParseExpiry(args.expires, request.mutable_expires_at());
    if (!s.ok()) return Fail(s);
  }
  return PrintPublished(ctx, PostAdmin(ctx, "/v1/notices", ToJson(request)));
}

int RunOpinion(const Context& ctx, const std::string& stance, const std::string& target,
               const std::string& reason) {
  auto id = ValidateRecordId(target);
  if (!id.ok()) return Fail(id.status());
  api::OpinionRequest request;
  request.set_target(*id);
  request.set_stance(stance);
  request.set_reason(reason);
  return PrintPublished(ctx, PostAdmin(ctx, "/v1/opinions", ToJson(request)));
}

int RunRetract(const Context& ctx, const std::string& target, const std::string& reason) {
  auto id = ValidateRecordId(target);
  if (!id.ok()) return Fail(id.status());
  Status s = RequireText(reason, "--reason");
  if (!s.ok()) return Fail(s);
  api::RetractionRequest request;
  request.set_target(*id);
  request.set_reason(reason);
  return PrintPublished(ctx, PostAdmin(ctx, "/v1/retractions", ToJson(request)));
}

int RunReload(const Context& ctx) {
  auto body = PostAdmin(ctx, "/v1/reload", "{}");
  if (!body.ok()) return Fail(body.status());
  if (ctx.json) {
    PrintJsonDocument(*body);
    return kExitOk;
  }
  api::ReloadResponse reloaded;
  Status s = ParseAnswer(*body, &reloaded);
  if (!s.ok()) return Fail(s);
  std::printf("reloaded: %u trusted members, log level %s\n", reloaded.trusted_members(),
              reloaded.log_level().empty() ? "unchanged" : reloaded.log_level().c_str());
  return kExitOk;
}

}  // namespace hashmesh::cli
