#include "wms/vcs/git.hpp"

#include <git2.h>

#include "wms/util/error.hpp"

namespace wms::vcs {
namespace {

struct Init {
  Init() { git_libgit2_init(); }
};

void check(int rc, const std::string& what) {
  if (rc >= 0) return;
  const git_error* e = git_error_last();
  throw IoError("git", fmt::format("{}: {}", what, e && e->message ? e->message : "unknown error"));
}

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p) Free(p);
  }
};

}  // namespace

struct GitRepo::Impl {
  git_repository* repo = nullptr;
  ~Impl() {
    if (repo) git_repository_free(repo);
  }
};

GitRepo::GitRepo(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GitRepo::~GitRepo() = default;
GitRepo::GitRepo(GitRepo&&) noexcept = default;
GitRepo& GitRepo::operator=(GitRepo&&) noexcept = default;

std::optional<GitRepo> GitRepo::open_containing(const fs::path& dir) {
  static Init init;
  auto impl = std::make_unique<Impl>();
  if (git_repository_open_ext(&impl->repo, dir.c_str(), 0, nullptr) < 0) return std::nullopt;
  if (git_repository_is_bare(impl->repo)) return std::nullopt;
  return GitRepo(std::move(impl));
}

fs::path GitRepo::workdir() const {
  return git_repository_workdir(impl_->repo);
}

std::string GitRepo::head_branch() const {
  Owned<git_reference, git_reference_free> head;
  check(git_repository_head(&head.p, impl_->repo), "read HEAD (a repository needs a first commit for git mode)");
  if (!git_reference_is_branch(head.p)) throw Conflict("git: HEAD is detached; check out a branch for git mode");
  return git_reference_shorthand(head.p);
}

std::string GitRepo::branch_commit(const std::string& branch) const {
  git_oid oid;
  if (git_reference_name_to_id(&oid, impl_->repo, ("refs/heads/" + branch).c_str()) < 0) return "";
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof hex, &oid);
  return hex;
}

std::string GitRepo::commit_files(const std::string& branch, const std::string& parent_branch,
                                  const std::map<std::string, std::string>& files, const std::string& message) {
  git_repository* repo = impl_->repo;
  git_oid parent_id;
  check(git_reference_name_to_id(&parent_id, repo, ("refs/heads/" + parent_branch).c_str()),
        "find branch " + parent_branch);
  Owned<git_commit, git_commit_free> parent;
  check(git_commit_lookup(&parent.p, repo, &parent_id), "read commit");
  Owned<git_tree, git_tree_free> base;
  check(git_commit_tree(&base.p, parent.p), "read tree");
  Owned<git_index, git_index_free> index;
  check(git_index_new(&index.p), "new index");
  check(git_index_read_tree(index.p, base.p), "read tree into index");
  for (const auto& [path, content] : files) {
    git_oid blob;
    check(git_blob_create_from_buffer(&blob, repo, content.data(), content.size()), "write blob " + path);
    git_index_entry e{};
    e.mode = GIT_FILEMODE_BLOB;
    e.id = blob;
    e.path = path.c_str();
    check(git_index_add(index.p, &e), "stage " + path);
  }
  git_oid tree_id;
  check(git_index_write_tree_to(&tree_id, index.p, repo), "write tree");
  Owned<git_tree, git_tree_free> tree;
  check(git_tree_lookup(&tree.p, repo, &tree_id), "read new tree");
  Owned<git_signature, git_signature_free> sig;
  if (git_signature_default(&sig.p, repo) < 0) check(git_signature_now(&sig.p, "wms", "wms@localhost"), "signature");
  // The branch starts at the parent (or moves on from its own tip if it exists).
  std::string ref = "refs/heads/" + branch;
  git_oid commit_id;
  const git_commit* parents[] = {parent.p};
  check(git_commit_create(&commit_id, repo, nullptr, sig.p, sig.p, "UTF-8", message.c_str(), tree.p, 1, parents),
        "commit");
  Owned<git_reference, git_reference_free> out;
  check(git_reference_create(&out.p, repo, ref.c_str(), &commit_id, /*force=*/1,
                             ("wms: " + message.substr(0, message.find('\n'))).c_str()),
        "update " + ref);
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof hex, &commit_id);
  return hex;
}

void GitRepo::refresh_index(const std::map<std::string, std::string>& files) {
  Owned<git_index, git_index_free> index;
  check(git_repository_index(&index.p, impl_->repo), "open index");
  for (const auto& [path, content] : files) check(git_index_add_bypath(index.p, path.c_str()), "refresh " + path);
  check(git_index_write(index.p), "write index");
}

namespace {

struct PushState {
  const std::string* token;
  int asked = 0;
  std::string rejected;
};

int credentials(git_credential** out, const char*, const char*, unsigned int allowed, void* payload) {
  auto* st = static_cast<PushState*>(payload);
  // Asked again means the token was refused: stop instead of looping.
  if (st->token->empty() || ++st->asked > 1 || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) return GIT_PASSTHROUGH;
  return git_credential_userpass_plaintext_new(out, "x-access-token", st->token->c_str());
}

int update_reference(const char* refname, const char* status, void* payload) {
  if (status) static_cast<PushState*>(payload)->rejected = fmt::format("{}: {}", refname, status);
  return 0;
}

}  // namespace

void GitRepo::push(const std::string& remote_name, const std::string& branch, const std::string& token) {
  Owned<git_remote, git_remote_free> remote;
  check(git_remote_lookup(&remote.p, impl_->repo, remote_name.c_str()), "find remote " + remote_name);
  PushState st{&token};
  git_push_options opts;
  git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
  opts.callbacks.credentials = credentials;
  opts.callbacks.push_update_reference = update_reference;
  opts.callbacks.payload = &st;
  std::string spec = "+refs/heads/" + branch + ":refs/heads/" + branch;
  char* specs[] = {spec.data()};
  git_strarray refspecs = {specs, 1};
  check(git_remote_push(remote.p, &refspecs, &opts), fmt::format("push {} to {}", branch, remote_name));
  if (!st.rejected.empty())
    throw IoError("git", fmt::format("push {} to {}: rejected ({})", branch, remote_name, st.rejected));
}

}  // namespace wms::vcs
