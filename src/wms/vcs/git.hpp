// Git for the pipeline's git mode (libgit2, never a shell): commit the dataset's
// pointer files on a data/<UTC time> branch, squash-merge them into the main branch
// when the model improved, or push the branch for a hosted pull request. Commits are built from trees in memory, so the
// user's working tree is never touched; after a merge into the checked-out branch the
// index entries of the committed paths are refreshed so `git status` stays clean.
// One GitRepo per thread.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace wms::vcs {

namespace fs = std::filesystem;

class GitRepo {
 public:
  /// The repository containing dir (searching upwards), or nullopt if there is none.
  static std::optional<GitRepo> open_containing(const fs::path& dir);
  ~GitRepo();
  GitRepo(GitRepo&&) noexcept;
  GitRepo& operator=(GitRepo&&) noexcept;

  fs::path workdir() const;
  /// The checked-out branch's short name ("main"); throws Conflict on a detached HEAD.
  std::string head_branch() const;
  /// Commit id of a branch ("" if it does not exist).
  std::string branch_commit(const std::string& branch) const;

  /// Creates (or advances) `branch` with one commit on top of `parent_branch`'s tip
  /// whose tree is the parent's plus `files` (path relative to the repository root ->
  /// content). Returns the commit id.
  std::string commit_files(const std::string& branch, const std::string& parent_branch,
                           const std::map<std::string, std::string>& files, const std::string& message);

  /// Refreshes the index entries of these paths from the working tree.
  void refresh_index(const std::map<std::string, std::string>& files);

  /// Pushes `branch` to the same name on `remote` (force: a data branch belongs to
  /// its run). token, when set, answers an HTTPS credential request as
  /// x-access-token:TOKEN (GitHub's convention for tokens). Throws IoError with
  /// libgit2's or the remote's message.
  void push(const std::string& remote, const std::string& branch, const std::string& token);

 private:
  struct Impl;
  explicit GitRepo(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wms::vcs
